// RUN: mcc-opt "--mcc-lower-to-llvm=serial-below=0" %s | FileCheck %s

// Attention with RoPE fused into it (mcc-fuse-rope): a generated region
// rotates q into a buffer of its own (at 48, after the result) and writes
// this step's k (rotated) and v as f16 into the layer's cache rows
// (McApi.kv_cache, field 7, asked per K/V head: the cache is head-major, so
// a row is the token's position times head_dim), with the angles from
// McApi.rope_table (field 6); then McApi.attend (field 2) reads the rotated
// q. 2 query heads and 1 KV head of 8: the q (row, head) pairs and the k/v
// heads are shared out among the threads.
// CHECK: mcc.workspace_floats = 64
// CHECK-LABEL: llvm.func @mcc_step(
// CHECK: llvm.getelementptr %{{.*}}[0, 4]
// CHECK: %[[Q:.*]] = llvm.getelementptr %{{.*}}[48]
// CHECK: llvm.getelementptr %{{.*}}[0, 2]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[Q]], %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, i32, i64, i64, i64, i64, i64, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-LABEL: llvm.func @mcc_region_0(
// CHECK: llvm.getelementptr %{{.*}}[0, 6]
// CHECK: llvm.getelementptr %{{.*}}[0, 7]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, i32, i32) -> !llvm.ptr
// CHECK: llvm.getelementptr %{{.*}}[0, 7]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, i32, i32) -> !llvm.ptr
// CHECK: llvm.fptrunc %{{.*}} : f32 to f16
// CHECK: llvm.store %{{.*}}, %{{.*}} : f16, !llvm.ptr

// Without RoPE (the unfused graph rotates in mcc.rope first), k and v are
// still written by generated code, unrotated, and attend reads q as it is.
// CHECK-LABEL: llvm.func @mcc_plain(
// CHECK-NOT: [0, 6]
// CHECK: llvm.getelementptr %{{.*}}[0, 2]
// CHECK-LABEL: llvm.func @mcc_region_1(
// CHECK-NOT: [0, 6]
// CHECK: llvm.getelementptr %{{.*}}[0, 7]
// CHECK: llvm.fptrunc
module attributes {mcc.weights = ["emb"]} {
  func.func @step(%tok: tensor<1xi32>, %pos: i32) -> tensor<1x16xf32> {
    %x = mcc.embedding %tok {hidden = 16 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x16xf32>
    %k = mcc.embedding %tok {hidden = 8 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x8xf32>
    %a = mcc.attention %x, %k, %k at %pos {head_dim = 8 : i64, heads = 2 : i64, kv_heads = 1 : i64, layer = 0 : i64, rope_dim = 8 : i64, rope_style = "neox", window = 0 : i64} : tensor<1x16xf32>, tensor<1x8xf32>, tensor<1x8xf32> -> tensor<1x16xf32>
    return %a : tensor<1x16xf32>
  }
  func.func @plain(%tok: tensor<1xi32>, %pos: i32) -> tensor<1x16xf32> {
    %x = mcc.embedding %tok {hidden = 16 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x16xf32>
    %k = mcc.embedding %tok {hidden = 8 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x8xf32>
    %a = mcc.attention %x, %k, %k at %pos {head_dim = 8 : i64, heads = 2 : i64, kv_heads = 1 : i64, layer = 0 : i64, window = 0 : i64} : tensor<1x16xf32>, tensor<1x8xf32>, tensor<1x8xf32> -> tensor<1x16xf32>
    return %a : tensor<1x16xf32>
  }
}
