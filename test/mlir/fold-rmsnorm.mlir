// RUN: mcc-opt --mcc-fold-rmsnorm %s | FileCheck %s

// A norm feeding only matmuls becomes their prologue.
// CHECK-LABEL: func.func @fold
// CHECK-NOT: mcc.rms_norm
// CHECK: mcc.qmatmul %arg0 {{{.*}}eps = {{.*}}norm = "attn_norm", prologue = "rms_norm"{{.*}}weights = ["q", "k"]}
func.func @fold(%x: tensor<1x64xf32>) -> (tensor<1x64xf32>, tensor<1x32xf32>) {
  %h = mcc.rms_norm %x {eps = 1.0e-5 : f32, group = 64 : i64, weight = "attn_norm"} : tensor<1x64xf32>
  %q:2 = mcc.qmatmul %h {cols = 64 : i64, rows = array<i64: 64, 32>, scheme = "Q4_1", weights = ["q", "k"]} : tensor<1x64xf32> -> tensor<1x64xf32>, tensor<1x32xf32>
  return %q#0, %q#1 : tensor<1x64xf32>, tensor<1x32xf32>
}

// Per-head norms (Qwen3's Q/K norm) are not a row's prologue.
// CHECK-LABEL: func.func @per_head
// CHECK: mcc.rms_norm %arg0 {{{.*}}group = 16
// CHECK: mcc.qmatmul %{{.*}} {cols = 64 : i64, rows
func.func @per_head(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %h = mcc.rms_norm %x {eps = 1.0e-5 : f32, group = 16 : i64, weight = "q_norm"} : tensor<1x64xf32>
  %q = mcc.qmatmul %h {cols = 64 : i64, rows = array<i64: 64>, scheme = "F16", weights = ["q"]} : tensor<1x64xf32> -> tensor<1x64xf32>
  return %q : tensor<1x64xf32>
}

// A norm with another user, or used as a residual, stays.
// CHECK-LABEL: func.func @other_users
// CHECK: %[[N:.*]] = mcc.rms_norm
// CHECK: mcc.qmatmul %[[N]] {cols
// CHECK: return %{{.*}}, %[[N]]
// CHECK-LABEL: func.func @as_residual
// CHECK: %[[R:.*]] = mcc.rms_norm
// CHECK: mcc.qmatmul %arg0 residual %[[R]]
func.func @other_users(%x: tensor<1x64xf32>) -> (tensor<1x64xf32>, tensor<1x64xf32>) {
  %h = mcc.rms_norm %x {eps = 1.0e-5 : f32, group = 64 : i64, weight = "n"} : tensor<1x64xf32>
  %q = mcc.qmatmul %h {cols = 64 : i64, rows = array<i64: 64>, scheme = "F16", weights = ["q"]} : tensor<1x64xf32> -> tensor<1x64xf32>
  return %q, %h : tensor<1x64xf32>, tensor<1x64xf32>
}
func.func @as_residual(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %h = mcc.rms_norm %x {eps = 1.0e-5 : f32, group = 64 : i64, weight = "n"} : tensor<1x64xf32>
  %q = mcc.qmatmul %x residual %h {cols = 64 : i64, rows = array<i64: 64>, scheme = "F16", weights = ["q"]} : tensor<1x64xf32> residual tensor<1x64xf32> -> tensor<1x64xf32>
  return %q : tensor<1x64xf32>
}
