// io_uring batch reads for the preadAsync backend (benchmarks, seed item 1). A separate addon
// so the guest's engine addon never depends on liburing. Built without io_uring support when
// liburing's headers are absent: `available()` says so and TypeScript falls back to the pool.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <vector>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

namespace {

Napi::Error SysError(Napi::Env env, const char *syscall, int e) {
  Napi::Error err = Napi::Error::New(env, std::string(syscall) + ": " + strerror(e));
  err.Set("errno", Napi::Number::New(env, e));
  err.Set("syscall", Napi::String::New(env, syscall));
  return err;
}

#ifdef HAVE_LIBURING
struct Ring {
  io_uring ring;
  unsigned depth;
};

// Submits one batch of reads (fd, buffer, offset) and waits for all of them on a pool thread.
class BatchWorker : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, Ring *ring, int fd, Napi::Array buffers, Napi::Array offsets)
      : Napi::AsyncWorker(env), ring_(ring), fd_(fd), deferred_(Napi::Promise::Deferred::New(env)) {
    for (uint32_t i = 0; i < buffers.Length(); i++) {
      auto b = buffers.Get(i).As<Napi::Uint8Array>();
      refs_.push_back(Napi::Persistent(b));
      bufs_.push_back(b.Data());
      lens_.push_back(b.ByteLength());
      offs_.push_back(static_cast<off_t>(offsets.Get(i).As<Napi::Number>().Int64Value()));
    }
    results_.resize(bufs_.size());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    size_t done = 0, next = 0;
    while (done < bufs_.size()) {
      unsigned queued = 0;
      while (next < bufs_.size() && queued < ring_->depth) {
        io_uring_sqe *sqe = io_uring_get_sqe(&ring_->ring);
        if (!sqe) break;
        io_uring_prep_read(sqe, fd_, bufs_[next], lens_[next], offs_[next]);
        io_uring_sqe_set_data64(sqe, next);
        next++;
        queued++;
      }
      int rc = io_uring_submit(&ring_->ring);
      if (rc < 0) {
        err_ = -rc;
        return;
      }
      for (unsigned i = 0; i < queued; i++) {
        io_uring_cqe *cqe;
        rc = io_uring_wait_cqe(&ring_->ring, &cqe);
        if (rc < 0) {
          err_ = -rc;
          return;
        }
        results_[io_uring_cqe_get_data64(cqe)] = cqe->res;
        io_uring_cqe_seen(&ring_->ring, cqe);
        done++;
      }
    }
  }
  void OnOK() override {
    if (err_ != 0) {
      deferred_.Reject(SysError(Env(), "io_uring", err_).Value());
      return;
    }
    Napi::Array out = Napi::Array::New(Env(), results_.size());
    for (size_t i = 0; i < results_.size(); i++) out.Set(i, Napi::Number::New(Env(), results_[i]));
    deferred_.Resolve(out);
  }

 private:
  Ring *ring_;
  int fd_;
  int err_ = 0;
  std::vector<Napi::Reference<Napi::Uint8Array>> refs_;
  std::vector<uint8_t *> bufs_;
  std::vector<size_t> lens_;
  std::vector<off_t> offs_;
  std::vector<int> results_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Create(const Napi::CallbackInfo &info) {
  unsigned depth = info[0].As<Napi::Number>().Uint32Value();
  auto *ring = new Ring{};
  ring->depth = depth;
  int rc = io_uring_queue_init(depth, &ring->ring, 0);
  if (rc < 0) {
    delete ring;
    throw SysError(info.Env(), "io_uring_queue_init", -rc);
  }
  return Napi::External<Ring>::New(info.Env(), ring, [](Napi::Env, Ring *r) {
    io_uring_queue_exit(&r->ring);
    delete r;
  });
}

Napi::Value ReadBatch(const Napi::CallbackInfo &info) {
  auto *ring = info[0].As<Napi::External<Ring>>().Data();
  int fd = info[1].As<Napi::Number>().Int32Value();
  auto *w = new BatchWorker(info.Env(), ring, fd, info[2].As<Napi::Array>(), info[3].As<Napi::Array>());
  auto p = w->Promise();
  w->Queue();
  return p;
}
#endif

Napi::Value Available(const Napi::CallbackInfo &info) {
#ifdef HAVE_LIBURING
  return Napi::Boolean::New(info.Env(), true);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("available", Napi::Function::New(env, Available));
#ifdef HAVE_LIBURING
  exports.Set("create", Napi::Function::New(env, Create));
  exports.Set("readBatch", Napi::Function::New(env, ReadBatch));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(powercut_uring, Init)
