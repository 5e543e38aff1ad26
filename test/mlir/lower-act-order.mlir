// RUN: mcc-opt "--mcc-lower-to-llvm=serial-below=0" %s | FileCheck %s

// A weight stored in act-order (listed in mcc.permuted) reads the
// activations in its own column order: a region gathers them through the
// weight's permutation (McApi.weight_perm, field 5) into a buffer of their
// own (at 64, after the two results), and that weight's product reads it.
// The weight that is not permuted reads the activations as they are.
// CHECK: mcc.workspace_floats = 96
// CHECK-LABEL: llvm.func @mcc_step(
// CHECK-COUNT-2: llvm.getelementptr %{{.*}}[0, 4]
// CHECK-LABEL: llvm.func @mcc_region_0(
// CHECK: llvm.getelementptr %{{.*}}[0, 5]
// CHECK: llvm.load %{{.*}} : !llvm.ptr -> i32
// CHECK-LABEL: llvm.func @mcc_region_1(
// "a", weight 1, reads the embedding at 0 (the workspace itself)
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %arg2, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// "p", weight 2, reads the gathered copy at 64
// CHECK: %[[G:.*]] = llvm.getelementptr %arg2[64]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %[[G]],
module attributes {mcc.weights = ["emb", "a", "p"], mcc.permuted = ["p"]} {
  func.func @step(%tok: tensor<1xi32>, %pos: i32) -> tensor<1x16xf32> {
    %x = mcc.embedding %tok {hidden = 32 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x32xf32>
    %ap:2 = mcc.qmatmul %x {cols = 32 : i64, rows = array<i64: 16, 16>, scheme = "PK4", weights = ["a", "p"]} : tensor<1x32xf32> -> tensor<1x16xf32>, tensor<1x16xf32>
    %s = mcc.add %ap#0, %ap#1 : tensor<1x16xf32>
    return %s : tensor<1x16xf32>
  }
}
