#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace shears {
namespace {

struct Job {
  const ChunkFn* fn;
  size_t n, grain, chunks;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex m;
  std::condition_variable cv;
  std::exception_ptr error;

  // Claims and runs chunks until none is left, or until `stop` is set (a worker being
  // retired by a resize: it leaves the rest to the job's caller, who always works too).
  void work(const std::atomic<bool>* stop = nullptr) {
    for (;;) {
      if (stop && stop->load(std::memory_order_relaxed)) return;
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= chunks) return;
      size_t b = i * grain, e = std::min(n, b + grain);
      try {
        (*fn)(i, b, e);
      } catch (...) {
        std::lock_guard<std::mutex> g(m);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
        std::lock_guard<std::mutex> g(m);
        cv.notify_all();
      }
    }
  }
};

// Resizing is safe while other threads run parallel_for: every job's caller claims
// chunks itself until none is left, so a job finishes with any number of workers,
// none included. A resize retires the old workers (each stops after its current
// chunk), then starts the new ones; resizes are serialized, and callers only read the
// worker count (an atomic), never the worker list.
class Pool {
 public:
  Pool() { start(default_threads()); }
  ~Pool() { stop(); }

  int threads() const { return workers_count_.load(std::memory_order_relaxed) + 1; }

  void resize(int n) {
    if (n <= 0) n = default_threads();
    std::lock_guard<std::mutex> r(resize_m_);
    if (n == threads()) return;
    stop();
    start(n);
  }

  void run(size_t n, size_t grain, const ChunkFn& fn) {
    if (n == 0) return;
    if (grain == 0) grain = 1;
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    job->grain = grain;
    job->chunks = chunk_count(n, grain);
    if (job->chunks > 1 && workers_count_.load(std::memory_order_relaxed) > 0) {
      std::lock_guard<std::mutex> g(m_);
      jobs_.push_back(job);
      cv_.notify_all();
    }
    job->work();
    {
      std::unique_lock<std::mutex> g(job->m);
      job->cv.wait(g, [&] { return job->done.load(std::memory_order_acquire) == job->chunks; });
    }
    {
      // Workers drop finished jobs lazily; drop ours now so it does not linger.
      std::lock_guard<std::mutex> g(m_);
      jobs_.erase(std::remove(jobs_.begin(), jobs_.end(), job), jobs_.end());
    }
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  static int default_threads() {
    if (const char* env = std::getenv("SHEARS_THREADS")) {
      int v = std::atoi(env);
      if (v > 0) return std::min(v, kMaxPoolThreads);
    }
    unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : std::min(static_cast<int>(hc), kMaxPoolThreads);
  }

  // Both with resize_m_ held (or from the constructor / destructor).
  void start(int n) {
    {
      std::lock_guard<std::mutex> g(m_);
      quit_.store(false);
    }
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { loop(); });
    workers_count_.store(static_cast<int>(workers_.size()));
  }

  void stop() {
    workers_count_.store(0);
    {
      std::lock_guard<std::mutex> g(m_);
      quit_.store(true);
      cv_.notify_all();
    }
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [&] {
          if (quit_.load()) return true;
          for (auto& j : jobs_)
            if (j->next.load(std::memory_order_relaxed) < j->chunks) return true;
          return false;
        });
        if (quit_.load()) return;
        for (auto& j : jobs_)
          if (j->next.load(std::memory_order_relaxed) < j->chunks) {
            job = j;
            break;
          }
      }
      if (job) {
        job->work(&quit_);
        std::lock_guard<std::mutex> g(m_);
        jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(),
                                   [](const std::shared_ptr<Job>& j) {
                                     return j->next.load(std::memory_order_relaxed) >= j->chunks;
                                   }),
                    jobs_.end());
      }
    }
  }

  std::mutex resize_m_;                 // serializes resizes; guards workers_
  std::vector<std::thread> workers_;
  std::atomic<int> workers_count_{0};  // what callers read
  std::deque<std::shared_ptr<Job>> jobs_;
  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<bool> quit_{false};
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int pool_threads() { return pool().threads(); }
void set_pool_threads(int n) { pool().resize(n); }
void parallel_for(size_t n, size_t grain, const ChunkFn& fn) { pool().run(n, grain, fn); }

size_t balanced_grain(size_t n, size_t min_grain, size_t multiple) {
  if (multiple == 0) multiple = 1;
  size_t target_chunks = static_cast<size_t>(pool_threads()) * 4;
  size_t g = std::max<size_t>(min_grain, (n + target_chunks - 1) / std::max<size_t>(target_chunks, 1));
  g = std::max<size_t>(g, 1);
  return (g + multiple - 1) / multiple * multiple;
}

}  // namespace shears
