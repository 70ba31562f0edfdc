// PLACEHOLDER: replaced by the implementation
#include "binding.h"
namespace wsn::binding {
void initHandshake(Napi::Env, Napi::Object) {}
}  // namespace wsn::binding
