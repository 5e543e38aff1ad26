// RUN: mcc-opt --mcc-lower-to-llvm %s | FileCheck %s
// RUN: mcc-opt "--mcc-lower-to-llvm=serial-below=64" %s | FileCheck %s --check-prefix=AT64

// By default an elementwise op over fewer than 8192 floats runs on the
// calling thread: a parallel region costs every thread a meeting, more than
// such an op (a decode step's norms, biases, RoPE, SwiGLU) takes alone.
// Here the norm (64 floats) and the product's norm prologue (64) are loops
// in the entry point; the add over 8192 floats and the matrix product
// (always) are regions, run through McApi.parallel (field 4).
// CHECK-LABEL: llvm.func @mcc_step(
// CHECK: llvm.intr.sqrt
// CHECK: llvm.intr.sqrt
// CHECK: llvm.getelementptr %{{.*}}[0, 4]
// CHECK-NOT: llvm.intr.sqrt
// CHECK: llvm.getelementptr %{{.*}}[0, 4]
// CHECK-NOT: llvm.getelementptr %{{.*}}[0, 4]
// CHECK: llvm.return
// The product: McApi.matmul_rows (field 1) on each thread's rows.
// CHECK-LABEL: llvm.func @mcc_region_0(
// CHECK: llvm.getelementptr %{{.*}}[0, 1]
// The add: 8192 elements shared out.
// CHECK-LABEL: llvm.func @mcc_region_1(
// CHECK: llvm.mlir.constant(8192 : i64)
// CHECK: llvm.fadd
// CHECK-NOT: llvm.func @mcc_region_2(

// At the threshold the 64-float norms are regions too (four in all).
// AT64-LABEL: llvm.func @mcc_step(
// AT64-COUNT-4: llvm.getelementptr %{{.*}}[0, 4]
// AT64-NOT: llvm.intr.sqrt
// AT64: llvm.return
// AT64: llvm.func @mcc_region_3(
module attributes {mcc.weights = ["emb", "big", "n", "q"]} {
  func.func @step(%tok: tensor<1xi32>, %pos: i32) -> tensor<1x32xf32> {
    %x = mcc.embedding %tok {hidden = 64 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x64xf32>
    %n = mcc.rms_norm %x {eps = 1.0e-6 : f32, group = 64 : i64, weight = "n"} : tensor<1x64xf32>
    %q = mcc.qmatmul %n {cols = 64 : i64, eps = 1.0e-5 : f32, norm = "n", prologue = "rms_norm", rows = array<i64: 32>, scheme = "F32", weights = ["q"]} : tensor<1x64xf32> -> tensor<1x32xf32>
    %b = mcc.embedding %tok {hidden = 8192 : i64, scheme = "F32", vocab = 100 : i64, weight = "big"} : tensor<1xi32> -> tensor<1x8192xf32>
    %a = mcc.add %b, %b : tensor<1x8192xf32>
    return %q : tensor<1x32xf32>
  }
}
