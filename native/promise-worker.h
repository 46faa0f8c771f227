// Promise-returning AsyncWorkers. Lifecycle: the constructor (main thread) copies every
// input into C++ values; Execute runs on a libuv pool thread (a batch may add helper
// threads of its own) and touches no Napi value; OnOK/OnError settle on the main thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstddef>
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

/** One batch item's outcome, filled by whichever thread ran the item. */
struct ItemResult {
  bool ok = false;
  OpError error;
  uint64_t bytes = 0;
  CopyMethod method = CopyMethod::ReadWrite;
};

/**
 * Runs RunItem over `count` items on up to `threads` threads (the pool thread plus
 * helper threads it starts). Threads claim indices in increasing order from a shared counter, so every
 * item below a failure has been claimed and finished by the time the batch ends.
 *
 * Stop mode: after a failure is recorded no item above it is started (items already
 * running, at most one per other thread, finish). Rejects with the lowest-index
 * failure, carrying `index` and `completed` = index: every earlier item succeeded.
 * Continue mode: every item runs; resolves { completed, bytes, failures } where
 * `completed` counts the successes and `failures` holds each failed item's error (with
 * its `index`) in index order. Copy batches add `itemBytes` (Float64Array) and
 * `methods` (Uint8Array of CopyMethod values; meaningful where the item succeeded).
 */
class BatchWorker : public PromiseWorker {
 public:
  /** Uses one thread per `items_per_thread` items, up to `threads`: a thread costs ~0.1 ms to start. */
  BatchWorker(Napi::Env env, const char* resource_name, size_t count, bool continue_on_error, size_t threads,
              size_t items_per_thread, bool reports_copies);

 protected:
  /** Performs item `index`, filling `result`; returns success. Called concurrently when threads > 1. */
  virtual bool RunItem(size_t index, ItemResult* result) = 0;

  /** Pool thread, before any item: how many of `threads` threads this batch can use well. */
  virtual size_t UsefulThreads(size_t threads) const { return threads; }

  void Execute() override;
  void OnOK() override;

 private:
  void Drain();

  std::vector<ItemResult> results_;
  const bool continue_on_error_;
  const size_t threads_;
  const bool reports_copies_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> first_failure_;
  std::atomic<size_t> succeeded_{0};
};

/** How many threads a batch may use: UV_THREADPOOL_SIZE as libuv reads it, else libuv's default of 4. */
size_t BatchThreads();

}  // namespace cairn
