// RUN: mcc-opt "--mcc-lower-to-llvm=serial-below=0" %s | FileCheck %s

// Attention with RoPE fused into it (mcc-fuse-rope): a generated region
// rotates q into a buffer of its own (at 48, after the result) and k into
// another (at 64), and hands each (row, K/V head)'s rotated k and its v to
// the runtime's cache write (McApi.store_kv, field 7: layer, head,
// position, k, v; the cache's format, f16 or int8, is the runtime's), with
// the angles from McApi.rope_table (field 6); then McApi.attend (field 2)
// reads the rotated q. 2 query heads and 1 KV head of 8: the q (row, head)
// pairs and the k/v heads are shared out among the threads.
// CHECK: mcc.workspace_floats = 80
// CHECK-LABEL: llvm.func @mcc_step(
// CHECK: llvm.getelementptr %{{.*}}[0, 4]
// CHECK: %[[Q:.*]] = llvm.getelementptr %{{.*}}[48]
// CHECK: llvm.getelementptr %{{.*}}[0, 2]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[Q]], %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, i32, i64, i64, i64, i64, i64, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-LABEL: llvm.func @mcc_region_0(
// CHECK: llvm.getelementptr %{{.*}}[0, 6]
// CHECK: %[[KROT:.*]] = llvm.getelementptr %{{.*}}[64]
// CHECK: llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr
// CHECK: llvm.getelementptr %[[KROT]][%{{.*}}]
// CHECK: llvm.trunc %{{.*}} : i64 to i32
// CHECK: llvm.getelementptr %{{.*}}[0, 7]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, i32, i32, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-NOT: fptrunc
// CHECK-LABEL: llvm.func @mcc_plain(

// Without RoPE (the unfused graph rotates in mcc.rope first), k and v go to
// store_kv as they are, and attend reads q as it is.
// CHECK-NOT: [0, 6]
// CHECK: llvm.getelementptr %{{.*}}[0, 2]
// CHECK-LABEL: llvm.func @mcc_region_1(
// CHECK-NOT: [0, 6]
// CHECK: llvm.getelementptr %{{.*}}[0, 7]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, i32, i32, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-NOT: fptrunc
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
