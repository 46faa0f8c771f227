// Promise-returning AsyncWorkers. Lifecycle: the constructor (main thread) copies every
// input into C++ values; Execute runs on a libuv pool thread and touches no Napi value;
// OnOK/OnError run back on the main thread and settle the promise.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

#include "posix-ops.h"

namespace cairn {

/** An AsyncWorker that settles a promise; a C++ exception escaping Execute rejects it. */
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* resource_name);

  /** Queues the worker and returns its promise; the worker deletes itself when done. */
  Napi::Value Start();

 protected:
  void OnError(const Napi::Error& error) override;
  Napi::Promise::Deferred deferred_;
};

/** One batch item's outcome, filled on the pool thread. */
struct ItemResult {
  bool ok = false;
  OpError error;
  bool has_bytes = false;
  uint64_t bytes = 0;
  const char* method = nullptr;
};

/**
 * Runs RunItem over `count` items in order on one pool thread. Stop mode rejects with the
 * first failure's error carrying `index` and `completed`; continue mode resolves with
 * { completed, items, bytes }, every failed item's error carrying its `index`.
 */
class BatchWorker : public PromiseWorker {
 public:
  BatchWorker(Napi::Env env, const char* resource_name, size_t count, bool continue_on_error);

 protected:
  /** Pool thread: performs item `index`, filling `result`; returns result->ok. */
  virtual bool RunItem(size_t index, ItemResult* result) = 0;

  void Execute() override;
  void OnOK() override;

 private:
  std::vector<ItemResult> results_;
  const bool continue_on_error_;
  size_t completed_ = 0;
  bool stopped_ = false;
  size_t stopped_at_ = 0;
};

}  // namespace cairn
