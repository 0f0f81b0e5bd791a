#include "bindings/mappings.h"

#include <sys/mman.h>

#include <mutex>
#include <unordered_map>

namespace shears {
namespace mappings {

struct Mapping {
  void* data;
  size_t size;
  int pins = 0;                // pending operations using it
  bool buffer_alive = true;    // its ArrayBuffer not yet finalized
  bool unmap_requested = false;
  bool unmapped = false;
};

namespace {

std::mutex g_mutex;
std::unordered_map<void*, Mapping*> g_live;  // data -> mapping, until unmapped

// With g_mutex held: unmaps when nobody needs the memory any more, and frees the
// record once neither the buffer nor an operation refers to it.
// Returns true when the mapping is (now or already) unmapped.
bool settle(Mapping* m) {
  if (!m->unmapped && m->pins == 0 && (m->unmap_requested || !m->buffer_alive)) {
    ::munmap(m->data, m->size);
    m->unmapped = true;
    g_live.erase(m->data);
  }
  const bool unmapped = m->unmapped;
  if (unmapped && !m->buffer_alive && m->pins == 0) delete m;
  return unmapped;
}

}  // namespace

Mapping* add(void* data, size_t size) {
  auto* m = new Mapping{data, size};
  std::lock_guard<std::mutex> g(g_mutex);
  g_live[data] = m;
  return m;
}

void buffer_finalized(Mapping* m) {
  std::lock_guard<std::mutex> g(g_mutex);
  m->buffer_alive = false;
  settle(m);
}

Unmap request_unmap(void* data) {
  std::lock_guard<std::mutex> g(g_mutex);
  auto it = g_live.find(data);
  if (it == g_live.end()) return Unmap::NotMapped;
  Mapping* m = it->second;
  m->unmap_requested = true;
  return settle(m) ? Unmap::Unmapped : Unmap::Deferred;
}

Mapping* pin(void* data) {
  if (!data) return nullptr;
  std::lock_guard<std::mutex> g(g_mutex);
  auto it = g_live.find(data);
  if (it == g_live.end()) return nullptr;
  ++it->second->pins;
  return it->second;
}

void unpin(Mapping* m) {
  std::lock_guard<std::mutex> g(g_mutex);
  --m->pins;
  settle(m);
}

bool is_live(void* data) {
  std::lock_guard<std::mutex> g(g_mutex);
  auto it = g_live.find(data);
  return it != g_live.end() && !it->second->unmap_requested;
}

}  // namespace mappings
}  // namespace shears
