// PLACEHOLDER: replaced by the implementation
#include "binding.h"
namespace wsn::binding {
void initWriter(Napi::Env, Napi::Object) {}
}  // namespace wsn::binding
