// RUN: mcc-opt --mcc-fuse-rope %s | FileCheck %s

// CHECK-LABEL: func.func @fuse
// CHECK-NOT: mcc.rope
// CHECK: mcc.attention %arg0, %arg1, %arg2 at %arg3 {{{.*}}rope_dim = 16 : i64, rope_style = "neox"{{.*}}}
func.func @fuse(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>, %p: i32) -> tensor<1x64xf32> {
  %rq = mcc.rope %q at %p {head_dim = 16 : i64, rope_dim = 16 : i64, style = "neox", theta = 1.0e4 : f32} : tensor<1x64xf32>
  %rk = mcc.rope %k at %p {head_dim = 16 : i64, rope_dim = 16 : i64, style = "neox", theta = 1.0e4 : f32} : tensor<1x32xf32>
  %a = mcc.attention %rq, %rk, %v at %p {head_dim = 16 : i64, heads = 4 : i64, kv_heads = 2 : i64, layer = 0 : i64, window = 0 : i64} : tensor<1x64xf32>, tensor<1x32xf32>, tensor<1x32xf32> -> tensor<1x64xf32>
  return %a : tensor<1x64xf32>
}

// The rotated K is needed elsewhere too: both ropes stay.
// CHECK-LABEL: func.func @k_used_twice
// CHECK-COUNT-2: mcc.rope
// CHECK: mcc.attention
// CHECK-NOT: rope_style
func.func @k_used_twice(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>, %p: i32) -> (tensor<1x64xf32>, tensor<1x32xf32>) {
  %rq = mcc.rope %q at %p {head_dim = 16 : i64, rope_dim = 16 : i64, style = "neox", theta = 1.0e4 : f32} : tensor<1x64xf32>
  %rk = mcc.rope %k at %p {head_dim = 16 : i64, rope_dim = 16 : i64, style = "neox", theta = 1.0e4 : f32} : tensor<1x32xf32>
  %a = mcc.attention %rq, %rk, %v at %p {head_dim = 16 : i64, heads = 4 : i64, kv_heads = 2 : i64, layer = 0 : i64, window = 0 : i64} : tensor<1x64xf32>, tensor<1x32xf32>, tensor<1x32xf32> -> tensor<1x64xf32>
  return %a, %rk : tensor<1x64xf32>, tensor<1x32xf32>
}

// Q and K rotated differently, or at another position: not fused.
// CHECK-LABEL: func.func @mismatch
// CHECK-COUNT-2: mcc.rope
// CHECK-LABEL: func.func @other_pos
// CHECK-COUNT-2: mcc.rope
func.func @mismatch(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>, %p: i32) -> tensor<1x64xf32> {
  %rq = mcc.rope %q at %p {head_dim = 16 : i64, rope_dim = 16 : i64, style = "neox", theta = 1.0e4 : f32} : tensor<1x64xf32>
  %rk = mcc.rope %k at %p {head_dim = 16 : i64, rope_dim = 16 : i64, style = "interleaved", theta = 1.0e4 : f32} : tensor<1x32xf32>
  %a = mcc.attention %rq, %rk, %v at %p {head_dim = 16 : i64, heads = 4 : i64, kv_heads = 2 : i64, layer = 0 : i64, window = 0 : i64} : tensor<1x64xf32>, tensor<1x32xf32>, tensor<1x32xf32> -> tensor<1x64xf32>
  return %a : tensor<1x64xf32>
}
func.func @other_pos(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>, %p: i32, %p2: i32) -> tensor<1x64xf32> {
  %rq = mcc.rope %q at %p2 {head_dim = 16 : i64, rope_dim = 16 : i64, style = "neox", theta = 1.0e4 : f32} : tensor<1x64xf32>
  %rk = mcc.rope %k at %p2 {head_dim = 16 : i64, rope_dim = 16 : i64, style = "neox", theta = 1.0e4 : f32} : tensor<1x32xf32>
  %a = mcc.attention %rq, %rk, %v at %p {head_dim = 16 : i64, heads = 4 : i64, kv_heads = 2 : i64, layer = 0 : i64, window = 0 : i64} : tensor<1x64xf32>, tensor<1x32xf32>, tensor<1x32xf32> -> tensor<1x64xf32>
  return %a : tensor<1x64xf32>
}
