// What the block-wise learners' calls (vd_block_bindings.cc, mask_bindings.cc) read first:
// the block as the forward pass describes it (checked), the options object, the sequence
// count under `count_key` and their length, and x and target [count * seq, hidden].
#pragma once
#include <napi.h>

#include <climits>
#include <cstdint>

#include "bindings/forward_specs.h"
#include "bindings/js_args.h"
#include "cpu/fwd_block.h"

namespace shears {

struct BlockCall {
  BlockSpec block;
  Napi::Object o;
  int64_t count = 0, seq = 0;
  const float* x = nullptr;
  const float* target = nullptr;
};

inline BlockCall block_call(const Napi::CallbackInfo& info, const char* count_key, Keep& keep) {
  BlockCall c;
  c.block = block_arg(info[0], keep);
  check_block(c.block);
  c.o = object_arg(info[1], "options");
  c.count = get_int(c.o, count_key, 1, INT32_MAX);
  c.seq = get_int(c.o, "seq", 1, INT32_MAX);
  const size_t n = static_cast<size_t>(c.count * c.seq * c.block.hidden);
  c.x = f32_out(c.o.Get("x"), "x", n, keep);
  c.target = f32_out(c.o.Get("target"), "target", n, keep);
  return c;
}

}  // namespace shears
