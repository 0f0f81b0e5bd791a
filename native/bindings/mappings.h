// The file mappings mapFile made, and how many pending operations use each. An
// operation that is handed a view of a mapping (PromiseWorker pins every array it
// keeps) holds the mapping until it settles, so unmapFile while it runs only detaches
// the buffer at once and defers the munmap to the last user's end: the memory a
// worker thread reads never goes away under it. Called on the JavaScript thread.
#pragma once
#include <cstddef>

namespace shears {
namespace mappings {

struct Mapping;

// Registers a new mapping of `size` bytes at `data` (mapFile).
Mapping* add(void* data, size_t size);
// The mapping's ArrayBuffer was garbage-collected: it ends once no operation uses it.
void buffer_finalized(Mapping* m);

enum class Unmap { NotMapped, Unmapped, Deferred };
// unmapFile: ends the mapping at `data` now, or once its pending operations finish.
Unmap request_unmap(void* data);

// When `data` is a live mapping's address, counts one more user and returns it;
// else null.
Mapping* pin(void* data);
void unpin(Mapping* m);

// Whether `data` is a live mapping not asked to unmap (releasePages checks this).
bool is_live(void* data);

}  // namespace mappings
}  // namespace shears
