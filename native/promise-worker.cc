// Promise-returning AsyncWorkers; see promise-worker.h for the thread contract.
#include "promise-worker.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#include "system-error.h"

namespace cairn {
namespace {

constexpr size_t kNoFailure = SIZE_MAX;
// libuv clamps UV_THREADPOOL_SIZE to 1..1024; helper threads beyond a few dozen only add
// start-up cost, so batches stop there.
constexpr size_t kMaxBatchThreads = 64;

}  // namespace

PromiseWorker::PromiseWorker(Napi::Env env, const char* resource_name)
    : Napi::AsyncWorker(env, resource_name), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Value PromiseWorker::Start() {
  Napi::Promise promise = deferred_.Promise();
  Queue();
  return promise;
}

void PromiseWorker::OnError(const Napi::Error& error) {
  deferred_.Reject(error.Value());
}

size_t BatchThreads() {
  const char* configured = std::getenv("UV_THREADPOOL_SIZE");
  if (configured == nullptr) return 4;
  long value = std::strtol(configured, nullptr, 10);
  if (value < 1) return 1;
  return static_cast<size_t>(value) < kMaxBatchThreads ? static_cast<size_t>(value) : kMaxBatchThreads;
}

BatchWorker::BatchWorker(Napi::Env env, const char* resource_name, size_t count, bool continue_on_error,
                         size_t threads, size_t items_per_thread, bool reports_copies)
    : PromiseWorker(env, resource_name),
      results_(count),
      continue_on_error_(continue_on_error),
      threads_(std::max<size_t>(1, std::min(threads, count / std::max<size_t>(1, items_per_thread)))),
      reports_copies_(reports_copies),
      first_failure_(kNoFailure) {}

void BatchWorker::Drain() {
  for (;;) {
    const size_t i = next_.fetch_add(1);
    if (i >= results_.size()) return;
    if (!continue_on_error_ && i > first_failure_.load()) return;
    if (RunItem(i, &results_[i])) {
      results_[i].ok = true;
      succeeded_.fetch_add(1, std::memory_order_relaxed);
    } else if (!continue_on_error_) {
      size_t seen = first_failure_.load();
      while (i < seen && !first_failure_.compare_exchange_weak(seen, i)) {
      }
      return;
    }
  }
}

void BatchWorker::Execute() {
  const size_t helpers = std::max<size_t>(1, std::min(threads_, UsefulThreads(threads_))) - 1;
  std::exception_ptr thrown;
  std::mutex thrown_mutex;
  std::vector<std::thread> threads;
  threads.reserve(helpers);
  for (size_t k = 0; k < helpers; k++) {
    try {
      threads.emplace_back([&] {
        try {
          Drain();
        } catch (...) {
          std::lock_guard<std::mutex> lock(thrown_mutex);
          if (!thrown) thrown = std::current_exception();
        }
      });
    } catch (const std::system_error&) {
      // No more threads to be had: the ones running (this one at least) claim every item.
      break;
    }
  }
  try {
    Drain();
  } catch (...) {
    std::lock_guard<std::mutex> lock(thrown_mutex);
    if (!thrown) thrown = std::current_exception();
  }
  for (std::thread& thread : threads) thread.join();
  if (thrown) std::rethrow_exception(thrown);
}

void BatchWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  const size_t failed_at = first_failure_.load();
  if (!continue_on_error_ && failed_at != kNoFailure) {
    Napi::Object error = MakeSystemError(env, results_[failed_at].error).Value();
    error.Set("index", Napi::Number::New(env, static_cast<double>(failed_at)));
    error.Set("completed", Napi::Number::New(env, static_cast<double>(failed_at)));
    deferred_.Reject(error);
    return;
  }
  const size_t count = results_.size();
  Napi::Array failures = Napi::Array::New(env);
  double total_bytes = 0;
  uint32_t failure_count = 0;
  for (size_t i = 0; i < count; i++) {
    const ItemResult& result = results_[i];
    if (result.ok) {
      total_bytes += static_cast<double>(result.bytes);
      continue;
    }
    Napi::Object error = MakeSystemError(env, result.error).Value();
    error.Set("index", Napi::Number::New(env, static_cast<double>(i)));
    failures.Set(failure_count++, error);
  }
  Napi::Object outcome = Napi::Object::New(env);
  outcome.Set("completed", Napi::Number::New(env, static_cast<double>(succeeded_.load())));
  outcome.Set("bytes", Napi::Number::New(env, total_bytes));
  outcome.Set("failures", failures);
  if (reports_copies_) {
    Napi::Float64Array item_bytes = Napi::Float64Array::New(env, count);
    Napi::Uint8Array methods = Napi::Uint8Array::New(env, count);
    for (size_t i = 0; i < count; i++) {
      item_bytes[i] = static_cast<double>(results_[i].bytes);
      methods[i] = static_cast<uint8_t>(results_[i].method);
    }
    outcome.Set("itemBytes", item_bytes);
    outcome.Set("methods", methods);
  }
  deferred_.Resolve(outcome);
}

}  // namespace cairn
