// Promise-returning AsyncWorkers; see promise-worker.h for the thread contract.
#include "promise-worker.h"

#include "system-error.h"

namespace cairn {

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

BatchWorker::BatchWorker(Napi::Env env, const char* resource_name, size_t count, bool continue_on_error)
    : PromiseWorker(env, resource_name), results_(count), continue_on_error_(continue_on_error) {}

void BatchWorker::Execute() {
  for (size_t i = 0; i < results_.size(); i++) {
    if (RunItem(i, &results_[i])) {
      results_[i].ok = true;
      completed_++;
    } else if (!continue_on_error_) {
      stopped_ = true;
      stopped_at_ = i;
      return;
    }
  }
}

void BatchWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  if (stopped_) {
    Napi::Object error = MakeSystemError(env, results_[stopped_at_].error).Value();
    error.Set("index", Napi::Number::New(env, static_cast<double>(stopped_at_)));
    error.Set("completed", Napi::Number::New(env, static_cast<double>(completed_)));
    deferred_.Reject(error);
    return;
  }
  Napi::Array items = Napi::Array::New(env, results_.size());
  double total_bytes = 0;
  for (size_t i = 0; i < results_.size(); i++) {
    const ItemResult& result = results_[i];
    Napi::Object item = Napi::Object::New(env);
    item.Set("ok", Napi::Boolean::New(env, result.ok));
    if (result.ok) {
      if (result.has_bytes) {
        item.Set("bytes", Napi::Number::New(env, static_cast<double>(result.bytes)));
        total_bytes += static_cast<double>(result.bytes);
      }
      if (result.method != nullptr) item.Set("method", Napi::String::New(env, result.method));
    } else {
      Napi::Object error = MakeSystemError(env, result.error).Value();
      error.Set("index", Napi::Number::New(env, static_cast<double>(i)));
      item.Set("error", error);
    }
    items.Set(static_cast<uint32_t>(i), item);
  }
  Napi::Object outcome = Napi::Object::New(env);
  outcome.Set("completed", Napi::Number::New(env, static_cast<double>(completed_)));
  outcome.Set("items", items);
  outcome.Set("bytes", Napi::Number::New(env, total_bytes));
  deferred_.Resolve(outcome);
}

}  // namespace cairn
