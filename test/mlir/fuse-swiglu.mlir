// RUN: mcc-opt --mcc-fuse-swiglu %s | FileCheck %s

// CHECK-LABEL: func.func @fuse
// CHECK-NOT: mcc.swiglu
// CHECK: mcc.qmatmul %arg0, %arg1 {{{.*}}prologue = "swiglu"{{.*}}weights = ["down"]} : tensor<1x96xf32>, tensor<1x96xf32> -> tensor<1x32xf32>
func.func @fuse(%g: tensor<1x96xf32>, %u: tensor<1x96xf32>) -> tensor<1x32xf32> {
  %s = mcc.swiglu %g, %u : tensor<1x96xf32>
  %d = mcc.qmatmul %s {cols = 96 : i64, rows = array<i64: 32>, scheme = "Q8_0", weights = ["down"]} : tensor<1x96xf32> -> tensor<1x32xf32>
  return %d : tensor<1x32xf32>
}

// A SwiGLU result used twice must be computed once: no fusion.
// CHECK-LABEL: func.func @two_uses
// CHECK: %[[S:.*]] = mcc.swiglu
// CHECK: mcc.qmatmul %[[S]] {cols
// CHECK: return {{.*}}%[[S]]
func.func @two_uses(%g: tensor<1x96xf32>, %u: tensor<1x96xf32>) -> (tensor<1x32xf32>, tensor<1x96xf32>) {
  %s = mcc.swiglu %g, %u : tensor<1x96xf32>
  %d = mcc.qmatmul %s {cols = 96 : i64, rows = array<i64: 32>, scheme = "Q8_0", weights = ["down"]} : tensor<1x96xf32> -> tensor<1x32xf32>
  return %d, %s : tensor<1x32xf32>, tensor<1x96xf32>
}
