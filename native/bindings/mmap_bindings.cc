// File mapping and the byte-level ops the format readers and writers need.
//   mapFile(path) -> ArrayBuffer over mmap(MAP_PRIVATE, PROT_READ|PROT_WRITE): reads
//     page in on demand, and writes (pruning in place) are copy-on-write, never
//     reaching the file. The mapping is unmapped by the ArrayBuffer's finalizer, so
//     it lives as long as any view of it is reachable.
//   unmapFile(buffer) -> boolean: detaches the buffer (every view becomes empty, so JS
//     can no longer reach the memory) and unmaps it now instead of at garbage
//     collection: true when unmapped at once, false when pending native operations
//     still use it (bindings/mappings.h): the munmap then happens when the last one
//     settles, and their data stays valid until then.
//   releasePages(view) drops the private (copy-on-write) copies of the whole pages
//     inside a typed-array view of a mapFile buffer (madvise MADV_DONTNEED): the
//     pruning pipeline calls it once a block's pruned weights are safely elsewhere, so
//     that only one block's modified weights stay in memory. The view then reads the
//     file's original bytes again. Views of other memory are refused.
//   mapScratch(path, bytes) -> ArrayBuffer over mmap(MAP_SHARED, PROT_READ|PROT_WRITE) of
//     a new file of that size (created exclusively, its blocks reserved with fallocate
//     where the filesystem can, so that a full disk fails here; reading as zeros): writes
//     reach the file, so the kernel can write the pages back and drop them under memory
//     pressure (they are file pages, not the process's anonymous memory). Released like
//     mapFile's buffers (unmapFile, or the finalizer); the file is the caller's to
//     remove (it lives in a scratch folder).
//   dequantQ8_0(src Uint8Array, out Float32Array) -> Promise<void>
//   permuteRopeRows(src, dst Uint8Array, heads, headDim, rowBytes, toInterleaved) -> Promise<void>
//   transposeBytes(src, dst Uint8Array, rows, cols, elemBytes) -> Promise<void>
//   gatherBytes(src, dst Uint8Array, rows, cols, elemBytes, rowIdx Int32Array|null, colIdx Int32Array|null)
//     -> Promise<void>: the kept rows and columns of a matrix (structured surgery)
#include <fcntl.h>
#include <napi.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bindings/js_args.h"
#include "bindings/mappings.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/dequant_q8_0.h"
#include "cpu/permute_rows.h"

namespace shears {
namespace {

std::string sys_message(const std::string& path, const char* what, int err) {
  return path + ": " + what + ": " + std::strerror(err);
}

Napi::Value MapFile(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) fail(kRangeError, "mapFile: path must be a string");
    std::string path = info[0].As<Napi::String>();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(kIOError, sys_message(path, "cannot open", errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      fail(kIOError, sys_message(path, "cannot stat", e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(kIOError, path + ": not a regular file");
    }
    size_t size = static_cast<size_t>(st.st_size);
    if (size == 0) {  // mmap of length 0 is an error: an empty buffer needs no mapping
      ::close(fd);
      return Napi::ArrayBuffer::New(info.Env(), 0);
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int e = errno;
    ::close(fd);  // the mapping keeps its own reference to the file
    if (p == MAP_FAILED) fail(kIOError, sys_message(path, "cannot map", e));
    mappings::Mapping* m = mappings::add(p, size);
    return Napi::ArrayBuffer::New(
        info.Env(), p, size, [](Napi::Env, void*, mappings::Mapping* m) { mappings::buffer_finalized(m); }, m);
  });
}

Napi::Value MapScratch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) fail(kRangeError, "mapScratch: path must be a string");
    std::string path = info[0].As<Napi::String>();
    if (!info[1].IsNumber()) fail(kRangeError, "mapScratch: bytes must be a number");
    const double d = info[1].As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
      fail(kRangeError, "mapScratch: bytes must be a non-negative integer");
    const size_t size = static_cast<size_t>(d);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail(kIOError, sys_message(path, "cannot create", errno));
    auto give_up = [&](const char* what, int e) {
      ::close(fd);
      ::unlink(path.c_str());
      fail(kIOError, sys_message(path, what, e));
    };
    // The blocks are reserved now where the filesystem can (fallocate): a full disk is then
    // this error, not a SIGBUS at some later write through the mapping.
#ifdef __linux__
    if (size > 0 && ::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0 && errno != EOPNOTSUPP && errno != ENOSYS)
      give_up("cannot reserve the space", errno);
#endif
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) give_up("cannot size", errno);
    if (size == 0) {
      ::close(fd);
      return Napi::ArrayBuffer::New(info.Env(), 0);
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) give_up("cannot map", errno);
    ::close(fd);  // the mapping keeps its own reference to the file
    mappings::Mapping* m = mappings::add(p, size);
    return Napi::ArrayBuffer::New(
        info.Env(), p, size, [](Napi::Env, void*, mappings::Mapping* m) { mappings::buffer_finalized(m); }, m);
  });
}

Napi::Value UnmapFile(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsArrayBuffer()) fail(kRangeError, "unmapFile: expected an ArrayBuffer");
    auto ab = info[0].As<Napi::ArrayBuffer>();
    if (ab.IsDetached() || ab.ByteLength() == 0) return Napi::Boolean::New(info.Env(), true);
    void* data = ab.Data();
    if (!mappings::is_live(data)) fail(kRangeError, "unmapFile: the buffer was not made by mapFile");
    ab.Detach();  // first: no view can reach the memory once it is unmapped
    // (NotMapped here: the finalizer already ran at Detach and unmapped it.)
    return Napi::Boolean::New(info.Env(), mappings::request_unmap(data) != mappings::Unmap::Deferred);
  });
}

Napi::Value ReleasePages(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsTypedArray()) fail(kRangeError, "releasePages: expected a typed array");
    auto ta = info[0].As<Napi::TypedArray>();
    auto ab = ta.ArrayBuffer();
    if (ab.IsDetached() || ab.ByteLength() == 0) return Napi::Number::New(info.Env(), 0);
    if (!mappings::is_live(ab.Data())) fail(kRangeError, "releasePages: the view is not over a mapFile buffer");
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const uintptr_t begin = reinterpret_cast<uintptr_t>(ab.Data()) + ta.ByteOffset();
    const uintptr_t end = begin + ta.ByteLength();
    // Whole pages only: a page shared with a neighbouring tensor keeps its copy.
    const uintptr_t b = (begin + page - 1) / page * page, e = end / page * page;
    if (e <= b) return Napi::Number::New(info.Env(), 0);
    if (::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED) != 0)
      fail(kIOError, std::string("releasePages: madvise failed: ") + std::strerror(errno));
    return Napi::Number::New(info.Env(), static_cast<double>(e - b));
  });
}

size_t get_size(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) fail(kRangeError, std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<size_t>(d)) || d > 9007199254740991.0)
    fail(kRangeError, std::string(what) + " must be a non-negative integer");
  return static_cast<size_t>(d);
}

Napi::Value DequantQ8_0(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto src = typed_array<uint8_t>(info[0], "src");
    if (src.size % kQ8_0BlockBytes != 0)
      fail(kShapeError, "src has " + std::to_string(src.size) + " bytes, not a multiple of the 34-byte Q8_0 block");
    size_t blocks = src.size / kQ8_0BlockBytes;
    auto out = typed_array<float>(info[1], "out", blocks * kQ8_0BlockWeights);
    return PromiseWorker::Start(info.Env(), "shears.dequantQ8_0", {info[0], info[1]},
                                [src, out, blocks] { dequant_q8_0(src.data, blocks, out.data); });
  });
}

Napi::Value PermuteRopeRows(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto src = typed_array<uint8_t>(info[0], "src");
    size_t heads = get_size(info[2], "heads"), head_dim = get_size(info[3], "headDim");
    size_t row_bytes = get_size(info[4], "rowBytes");
    bool to_inter = info[5].ToBoolean();
    if (head_dim == 0 || head_dim % 2 != 0) fail(kShapeError, "headDim must be a positive even number");
    if (heads * head_dim * row_bytes != src.size)
      fail(kShapeError, "src has " + std::to_string(src.size) + " bytes, expected heads*headDim*rowBytes = " +
                            std::to_string(heads * head_dim * row_bytes));
    auto dst = typed_array<uint8_t>(info[1], "dst", src.size);
    if (src.data == dst.data) fail(kRangeError, "permuteRopeRows: src and dst must not be the same memory");
    return PromiseWorker::Start(info.Env(), "shears.permuteRopeRows", {info[0], info[1]},
                                [src, dst, heads, head_dim, row_bytes, to_inter] {
                                  permute_rope_rows(src.data, dst.data, heads, head_dim, row_bytes, to_inter);
                                });
  });
}

// A [rows, cols] matrix of elemBytes-byte elements as bytes (arguments 0, 2, 3, 4).
struct ByteMatrix {
  Span<uint8_t> src;
  size_t rows, cols, eb;
};

ByteMatrix byte_matrix_args(const Napi::CallbackInfo& info) {
  ByteMatrix m{typed_array<uint8_t>(info[0], "src"), get_size(info[2], "rows"), get_size(info[3], "cols"),
               get_size(info[4], "elemBytes")};
  if (m.eb == 0) fail(kRangeError, "elemBytes must be positive");
  if (m.rows * m.cols * m.eb != m.src.size)
    fail(kShapeError, "src has " + std::to_string(m.src.size) + " bytes, expected rows*cols*elemBytes = " +
                          std::to_string(m.rows * m.cols * m.eb));
  return m;
}

Napi::Value TransposeBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const ByteMatrix m = byte_matrix_args(info);
    const auto src = m.src;
    const size_t rows = m.rows, cols = m.cols, eb = m.eb;
    auto dst = typed_array<uint8_t>(info[1], "dst", src.size);
    return PromiseWorker::Start(info.Env(), "shears.transposeBytes", {info[0], info[1]},
                                [src, dst, rows, cols, eb] { transpose_bytes(src.data, dst.data, rows, cols, eb); });
  });
}

// Indices must be integers in [0, limit); `what` names them in the error.
void check_indices(const int32_t* idx, size_t n, size_t limit, const char* what) {
  for (size_t i = 0; i < n; ++i)
    if (idx[i] < 0 || static_cast<size_t>(idx[i]) >= limit)
      fail(kRangeError, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(idx[i]) + " is outside [0, " +
                            std::to_string(limit) + ")");
}

Napi::Value GatherBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const ByteMatrix m = byte_matrix_args(info);
    const auto src = m.src;
    const size_t rows = m.rows, cols = m.cols, eb = m.eb;
    const bool all_rows = info[5].IsNull() || info[5].IsUndefined(), all_cols = info[6].IsNull() || info[6].IsUndefined();
    Span<int32_t> ri, ci;
    if (!all_rows) ri = typed_array<int32_t>(info[5], "rowIdx");
    if (!all_cols) ci = typed_array<int32_t>(info[6], "colIdx");
    const size_t n_rows = all_rows ? rows : ri.size, n_cols = all_cols ? cols : ci.size;
    if (!all_rows) check_indices(ri.data, n_rows, rows, "rowIdx");
    if (!all_cols) check_indices(ci.data, n_cols, cols, "colIdx");
    auto dst = typed_array<uint8_t>(info[1], "dst", n_rows * n_cols * eb);
    if (src.data == dst.data) fail(kRangeError, "gatherBytes: src and dst must not be the same memory");
    const int32_t* rp = all_rows ? nullptr : ri.data;
    const int32_t* cp = all_cols ? nullptr : ci.data;
    std::vector<Napi::Value> keep{info[0], info[1]};
    if (!all_rows) keep.push_back(info[5]);
    if (!all_cols) keep.push_back(info[6]);
    return PromiseWorker::Start(info.Env(), "shears.gatherBytes", keep,
                                [src, dst, cols, eb, rp, n_rows, cp, n_cols] {
                                  gather_bytes(src.data, dst.data, cols, eb, rp, n_rows, cp, n_cols);
                                });
  });
}

}  // namespace

SHEARS_REGISTER(mmap) {
  export_function(env, exports, "mapFile", MapFile, 1);
  export_function(env, exports, "mapScratch", MapScratch, 2);
  export_function(env, exports, "releasePages", ReleasePages, 1);
  export_function(env, exports, "unmapFile", UnmapFile, 1);
  export_function(env, exports, "dequantQ8_0", DequantQ8_0, 2);
  export_function(env, exports, "permuteRopeRows", PermuteRopeRows, 6);
  export_function(env, exports, "transposeBytes", TransposeBytes, 5);
  export_function(env, exports, "gatherBytes", GatherBytes, 7);
}

}  // namespace shears
