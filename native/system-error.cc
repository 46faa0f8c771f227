// Node-shaped system errors for the addon; see system-error.h. Main thread only.
#include "system-error.h"

#include <uv.h>

namespace cairn {

Napi::Error MakeSystemError(Napi::Env env, const OpError& error) {
  // libuv's codes are the negated errno values on Unix, as in Node itself.
  const int uv_code = -error.err;
  const std::string code = uv_err_name(uv_code);
  std::string message = code + ": " + uv_strerror(uv_code) + ", " + error.syscall;
  if (!error.path.empty()) message += " '" + error.path + "'";
  if (error.has_dest) message += " -> '" + error.dest + "'";

  Napi::Error js_error = Napi::Error::New(env, message);
  Napi::Object object = js_error.Value();
  object.Set("errno", Napi::Number::New(env, uv_code));
  object.Set("code", Napi::String::New(env, code));
  object.Set("syscall", Napi::String::New(env, error.syscall));
  if (!error.path.empty()) object.Set("path", Napi::String::New(env, error.path));
  if (error.has_dest) object.Set("dest", Napi::String::New(env, error.dest));
  return js_error;
}

Napi::Error MakeLockedError(Napi::Env env, const std::string& path) {
  Napi::Error js_error = Napi::Error::New(env, "Lock file is held by this or another process: " + path);
  Napi::Object object = js_error.Value();
  object.Set("name", Napi::String::New(env, "CairnError"));
  object.Set("code", Napi::String::New(env, "CAIRN_LOCKED"));
  object.Set("path", Napi::String::New(env, path));
  Napi::Object details = Napi::Object::New(env);
  details.Set("path", Napi::String::New(env, path));
  object.Set("details", details);
  return js_error;
}

}  // namespace cairn
