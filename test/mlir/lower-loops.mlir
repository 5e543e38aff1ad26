// RUN: mcc-opt "--mcc-lower-to-llvm=serial-below=0" %s | FileCheck %s

// The elementwise ops between the matrix products become generated loops,
// each in a region of its own that McApi.parallel (field 4) runs on every
// thread: rms_norm per group (here per head: 4 groups of 16), bias_add by
// columns, add and swiglu by elements. last_row is a plain copy loop in the
// entry point. exp is a polynomial: nothing is called but McApi.
// CHECK-LABEL: llvm.func @mcc_step(
// CHECK-COUNT-4: llvm.getelementptr %{{.*}}[0, 4]
// The last row: a loop in the entry point itself, from row 2's first float
// (offset 2 * 64) of the swiglu result.
// CHECK: llvm.br ^bb1
// CHECK: llvm.return
// rms_norm of 3 rows x 4 groups: 12 groups shared out, 16 floats each.
// CHECK-LABEL: llvm.func @mcc_region_0(
// CHECK: llvm.mlir.constant(12 : i64)
// CHECK: llvm.intr.sqrt
// bias_add: columns shared out, the bias from McApi.small_vector (field 3).
// CHECK-LABEL: llvm.func @mcc_region_1(
// CHECK: llvm.getelementptr %{{.*}}[0, 3]
// CHECK: llvm.fadd
// add: 192 elements shared out.
// CHECK-LABEL: llvm.func @mcc_region_2(
// CHECK: llvm.mlir.constant(192 : i64)
// CHECK: llvm.fadd
// swiglu: silu(g) * u with exp expanded in place (no call).
// CHECK-LABEL: llvm.func @mcc_region_3(
// CHECK-NOT: llvm.call
// CHECK: llvm.fdiv
// CHECK: llvm.return
// CHECK-NOT: llvm.func @expf
// CHECK-NOT: math.
module attributes {mcc.weights = ["emb", "qn", "b"]} {
  func.func @step(%tok: tensor<3xi32>, %pos: i32) -> tensor<1x64xf32> {
    %x = mcc.embedding %tok {hidden = 64 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<3xi32> -> tensor<3x64xf32>
    %y = mcc.embedding %tok {hidden = 64 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<3xi32> -> tensor<3x64xf32>
    %n = mcc.rms_norm %x {eps = 1.0e-6 : f32, group = 16 : i64, weight = "qn"} : tensor<3x64xf32>
    %b = mcc.bias_add %n {weight = "b"} : tensor<3x64xf32>
    %a = mcc.add %b, %y : tensor<3x64xf32>
    %s = mcc.swiglu %a, %y : tensor<3x64xf32>
    %l = mcc.last_row %s : tensor<3x64xf32> -> tensor<1x64xf32>
    return %l : tensor<1x64xf32>
  }
}
