// PLACEHOLDER: replaced by the implementation
#include "binding.h"
namespace wsn::binding {
void initKernels(Napi::Env, Napi::Object) {}
}  // namespace wsn::binding
