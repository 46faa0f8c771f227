// Turns an OpError into a JavaScript Error shaped like Node's fs errors (code from
// errno via libuv's table, negative errno, syscall, path, dest). Main thread only.
#pragma once

#include <napi.h>

#include <string>

#include "posix-ops.h"

namespace cairn {

Napi::Error MakeSystemError(Napi::Env env, const OpError& error);

/** The CairnError-shaped rejection of lock(): code CAIRN_LOCKED, the lock file's path. */
Napi::Error MakeLockedError(Napi::Env env, const std::string& path);

}  // namespace cairn
