// The cairn addon's exports: batched link / copy / fsync / directory fsync (each batch
// fanned out over up to BatchThreads() threads), flock locks and a same-device check, each
// a PromiseWorker on the libuv pool. Argument checks here are a backstop
// (lib/fs/native-file-system.ts validates first); they run on the main thread, as does
// the lock registry.
#include <napi.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "posix-ops.h"
#include "promise-worker.h"
#include "system-error.h"

namespace cairn {
namespace {

// Lock handles this environment handed out, fd -> lock path. unlock() accepts only
// these, so a stale or forged handle cannot close somebody else's descriptor.
struct LockRegistry {
  std::unordered_map<int, std::string> held;
  ~LockRegistry() {
    // The environment is going away (a worker thread ended): let go of its locks.
    for (const auto& entry : held) close(entry.first);
  }
};

LockRegistry* Registry(Napi::Env env) { return env.GetInstanceData<LockRegistry>(); }

std::string PathArgument(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsString()) throw Napi::TypeError::New(env, std::string(name) + " must be a string");
  std::string path = value.As<Napi::String>().Utf8Value();
  if (path.empty()) throw Napi::TypeError::New(env, std::string(name) + " must not be empty");
  if (path.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, std::string(name) + " must not contain NUL bytes");
  }
  return path;
}

// A path list is an array of strings, or one string of paths joined by NUL bytes (what
// NativeFileSystem sends: one conversion instead of one per path). "" is the empty list.
std::vector<std::string> PathsArgument(Napi::Env env, const Napi::Value& value, const char* name) {
  std::vector<std::string> paths;
  if (value.IsString()) {
    const std::string joined = value.As<Napi::String>().Utf8Value();
    if (joined.empty()) return paths;
    size_t start = 0;
    for (;;) {
      const size_t end = joined.find('\0', start);
      const size_t stop = end == std::string::npos ? joined.size() : end;
      if (stop == start) throw Napi::TypeError::New(env, std::string(name) + " must not hold an empty path");
      paths.emplace_back(joined, start, stop - start);
      if (end == std::string::npos) return paths;
      start = end + 1;
    }
  }
  if (!value.IsArray()) {
    throw Napi::TypeError::New(env, std::string(name) + " must be an array of strings or a NUL-joined string");
  }
  Napi::Array array = value.As<Napi::Array>();
  paths.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) paths.push_back(PathArgument(env, array.Get(i), name));
  return paths;
}

bool BoolArgument(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsBoolean()) throw Napi::TypeError::New(env, std::string(name) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::vector<int64_t> LimitsArgument(Napi::Env env, const Napi::Value& value, size_t count) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "limits must be an array of numbers");
  Napi::Array array = value.As<Napi::Array>();
  if (array.Length() != count) throw Napi::RangeError::New(env, "limits must have one entry per copy");
  std::vector<int64_t> limits;
  limits.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsNumber()) throw Napi::TypeError::New(env, "limits must be an array of numbers");
    double limit = item.As<Napi::Number>().DoubleValue();
    if (!(limit >= -1 && limit <= 9007199254740991.0) || static_cast<double>(static_cast<int64_t>(limit)) != limit) {
      throw Napi::RangeError::New(env, "each limit must be -1 or a non-negative safe integer");
    }
    limits.push_back(static_cast<int64_t>(limit));
  }
  return limits;
}

void RequireSameLength(Napi::Env env, const std::vector<std::string>& froms, const std::vector<std::string>& tos) {
  if (froms.size() != tos.size()) throw Napi::RangeError::New(env, "froms and tos must have the same length");
}

// A link takes tens of microseconds, a helper thread about a hundred to start: only big
// link batches are worth spreading. Every copy and sync ends in an fsync (milliseconds).
constexpr size_t kLinksPerThread = 64;

class LinkWorker : public BatchWorker {
 public:
  LinkWorker(Napi::Env env, std::vector<std::string> froms, std::vector<std::string> tos, bool continue_on_error)
      : BatchWorker(env, "cairn.linkBatch", froms.size(), continue_on_error, BatchThreads(), kLinksPerThread, false),
        froms_(std::move(froms)),
        tos_(std::move(tos)) {}

 protected:
  bool RunItem(size_t i, ItemResult* result) override { return LinkFile(froms_[i], tos_[i], &result->error); }

  // link(2) holds the destination directory's lock, so threads linking into one directory
  // only queue on it: use at most one thread per distinct destination directory.
  size_t UsefulThreads(size_t threads) const override {
    std::unordered_set<std::string_view> directories;
    for (const std::string& to : tos_) {
      const size_t slash = to.rfind('/');
      directories.insert(std::string_view(to).substr(0, slash == std::string::npos ? 0 : slash));
      if (directories.size() >= threads) break;
    }
    return directories.size();
  }

 private:
  const std::vector<std::string> froms_;
  const std::vector<std::string> tos_;
};

class CopyWorker : public BatchWorker {
 public:
  CopyWorker(Napi::Env env, std::vector<std::string> froms, std::vector<std::string> tos, std::vector<int64_t> limits,
             bool continue_on_error)
      : BatchWorker(env, "cairn.copyBatch", froms.size(), continue_on_error, BatchThreads(), 1, true),
        froms_(std::move(froms)),
        tos_(std::move(tos)),
        limits_(std::move(limits)) {}

 protected:
  bool RunItem(size_t i, ItemResult* result) override {
    CopyOutcome outcome;
    if (!CopyFile(froms_[i], tos_[i], limits_[i], &state_, &outcome, &result->error)) return false;
    result->bytes = outcome.bytes;
    result->method = outcome.method;
    return true;
  }

 private:
  const std::vector<std::string> froms_;
  const std::vector<std::string> tos_;
  const std::vector<int64_t> limits_;
  CopyState state_;
};

class SyncWorker : public BatchWorker {
 public:
  SyncWorker(Napi::Env env, std::vector<std::string> paths, bool data_only, bool directories, bool continue_on_error)
      : BatchWorker(env, directories ? "cairn.syncDirs" : "cairn.syncBatch", paths.size(), continue_on_error,
                    BatchThreads(), 1, false),
        paths_(std::move(paths)),
        data_only_(data_only),
        directories_(directories) {}

 protected:
  bool RunItem(size_t i, ItemResult* result) override {
    return SyncPath(paths_[i], data_only_, directories_, &result->error);
  }

 private:
  const std::vector<std::string> paths_;
  const bool data_only_;
  const bool directories_;
};

class LockWorker : public PromiseWorker {
 public:
  LockWorker(Napi::Env env, std::string path) : PromiseWorker(env, "cairn.lock"), path_(std::move(path)) {}

 protected:
  void Execute() override { ok_ = LockFile(path_, &fd_, &busy_, &error_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (ok_) {
      Registry(env)->held[fd_] = path_;
      deferred_.Resolve(Napi::Number::New(env, fd_));
    } else if (busy_) {
      deferred_.Reject(MakeLockedError(env, path_).Value());
    } else {
      deferred_.Reject(MakeSystemError(env, error_).Value());
    }
  }

 private:
  const std::string path_;
  int fd_ = -1;
  bool ok_ = false;
  bool busy_ = false;
  OpError error_;
};

class UnlockWorker : public PromiseWorker {
 public:
  UnlockWorker(Napi::Env env, int fd, std::string path)
      : PromiseWorker(env, "cairn.unlock"), fd_(fd), path_(std::move(path)) {}

 protected:
  void Execute() override { ok_ = UnlockFile(fd_, path_, &error_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (ok_) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Reject(MakeSystemError(env, error_).Value());
    }
  }

 private:
  const int fd_;
  const std::string path_;
  bool ok_ = false;
  OpError error_;
};

// A single operation resolving with a boolean: `op` runs on the pool thread, sets the
// value and returns false (having filled the error) to reject.
class BoolWorker : public PromiseWorker {
 public:
  using Op = std::function<bool(bool* value, OpError* error)>;
  BoolWorker(Napi::Env env, const char* name, Op op) : PromiseWorker(env, name), op_(std::move(op)) {}

 protected:
  void Execute() override { ok_ = op_(&value_, &error_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (ok_) {
      deferred_.Resolve(Napi::Boolean::New(env, value_));
    } else {
      deferred_.Reject(MakeSystemError(env, error_).Value());
    }
  }

 private:
  const Op op_;
  bool value_ = false;
  bool ok_ = false;
  OpError error_;
};

// linkBatch(froms: string[], tos: string[], continueOnError: boolean)
Napi::Value LinkBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto froms = PathsArgument(env, info[0], "froms");
  auto tos = PathsArgument(env, info[1], "tos");
  RequireSameLength(env, froms, tos);
  bool continue_on_error = BoolArgument(env, info[2], "continueOnError");
  return (new LinkWorker(env, std::move(froms), std::move(tos), continue_on_error))->Start();
}

// copyBatch(froms: string[], tos: string[], limits: number[], continueOnError: boolean)
Napi::Value CopyBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto froms = PathsArgument(env, info[0], "froms");
  auto tos = PathsArgument(env, info[1], "tos");
  RequireSameLength(env, froms, tos);
  auto limits = LimitsArgument(env, info[2], froms.size());
  bool continue_on_error = BoolArgument(env, info[3], "continueOnError");
  return (new CopyWorker(env, std::move(froms), std::move(tos), std::move(limits), continue_on_error))->Start();
}

// syncBatch(paths: string[], dataOnly: boolean, continueOnError: boolean)
Napi::Value SyncBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto paths = PathsArgument(env, info[0], "paths");
  bool data_only = BoolArgument(env, info[1], "dataOnly");
  bool continue_on_error = BoolArgument(env, info[2], "continueOnError");
  return (new SyncWorker(env, std::move(paths), data_only, false, continue_on_error))->Start();
}

// syncDirs(paths: string[], continueOnError: boolean)
Napi::Value SyncDirs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto paths = PathsArgument(env, info[0], "paths");
  bool continue_on_error = BoolArgument(env, info[1], "continueOnError");
  return (new SyncWorker(env, std::move(paths), false, true, continue_on_error))->Start();
}

// lock(path: string) -> Promise<number>
Napi::Value Lock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return (new LockWorker(env, PathArgument(env, info[0], "path")))->Start();
}

// unlock(handle: number) -> Promise<void>; an unknown handle rejects with EBADF.
Napi::Value Unlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "handle must be a number");
  double handle = info[0].As<Napi::Number>().DoubleValue();
  LockRegistry* registry = Registry(env);
  auto found = handle >= 0 && handle <= INT32_MAX && static_cast<double>(static_cast<int>(handle)) == handle
                   ? registry->held.find(static_cast<int>(handle))
                   : registry->held.end();
  if (found == registry->held.end()) {
    OpError error;
    error.err = EBADF;
    error.syscall = "flock";
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(MakeSystemError(env, error).Value());
    return deferred.Promise();
  }
  // Forget the handle now, so a second unlock of it fails even while this one is queued.
  int fd = found->first;
  std::string path = std::move(found->second);
  registry->held.erase(found);
  return (new UnlockWorker(env, fd, std::move(path)))->Start();
}

// sameDevice(a: string, b: string) -> Promise<boolean>
Napi::Value SameDeviceExport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string a = PathArgument(env, info[0], "a");
  std::string b = PathArgument(env, info[1], "b");
  auto op = [a = std::move(a), b = std::move(b)](bool* same, OpError* error) { return SameDevice(a, b, same, error); };
  return (new BoolWorker(env, "cairn.sameDevice", std::move(op)))->Start();
}

// renameNoReplace(from: string, to: string) -> Promise<boolean>: true once renamed; false
// where RENAME_NOREPLACE is unsupported (nothing was done); rejects EEXIST when `to` exists.
Napi::Value RenameNoReplaceExport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string from = PathArgument(env, info[0], "from");
  std::string to = PathArgument(env, info[1], "to");
  auto op = [from = std::move(from), to = std::move(to)](bool* renamed, OpError* error) {
    bool supported = true;
    *renamed = RenameNoReplace(from, to, &supported, error);
    return *renamed || !supported;
  };
  return (new BoolWorker(env, "cairn.renameNoReplace", std::move(op)))->Start();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new LockRegistry());
  exports.Set("linkBatch", Napi::Function::New(env, LinkBatch, "linkBatch"));
  exports.Set("copyBatch", Napi::Function::New(env, CopyBatch, "copyBatch"));
  exports.Set("syncBatch", Napi::Function::New(env, SyncBatch, "syncBatch"));
  exports.Set("syncDirs", Napi::Function::New(env, SyncDirs, "syncDirs"));
  exports.Set("lock", Napi::Function::New(env, Lock, "lock"));
  exports.Set("unlock", Napi::Function::New(env, Unlock, "unlock"));
  exports.Set("sameDevice", Napi::Function::New(env, SameDeviceExport, "sameDevice"));
  exports.Set("renameNoReplace", Napi::Function::New(env, RenameNoReplaceExport, "renameNoReplace"));
  return exports;
}

}  // namespace
}  // namespace cairn

// The macro pastes its argument into an identifier, so it needs an unqualified name.
static Napi::Object InitCairn(Napi::Env env, Napi::Object exports) { return cairn::Init(env, exports); }

NODE_API_MODULE(cairn, InitCairn)
