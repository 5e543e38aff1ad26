// RUN: mcc-opt --mcc-merge-projections %s | FileCheck %s

// Q, K and V read one input with one layout: one matmul, three results.
// CHECK-LABEL: func.func @qkv
// CHECK: %[[M:.*]]:3 = mcc.qmatmul %arg0 {{{.*}}rows = array<i64: 64, 32, 32>{{.*}}weights = ["q", "k", "v"]}
// CHECK-NOT: mcc.qmatmul
// CHECK: return %[[M]]#0, %[[M]]#1, %[[M]]#2
func.func @qkv(%x: tensor<2x64xf32>) -> (tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>) {
  %q = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 64>, scheme = "Q4_0", weights = ["q"]} : tensor<2x64xf32> -> tensor<2x64xf32>
  %k = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 32>, scheme = "Q4_0", weights = ["k"]} : tensor<2x64xf32> -> tensor<2x32xf32>
  %v = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 32>, scheme = "Q4_0", weights = ["v"]} : tensor<2x64xf32> -> tensor<2x32xf32>
  return %q, %k, %v : tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>
}

// A V in another layout (as in Q4_K_M files) needs another kernel: only Q
// and K merge.
// CHECK-LABEL: func.func @mixed_layouts
// CHECK: mcc.qmatmul %arg0 {{{.*}}scheme = "PK4", weights = ["q", "k"]}
// CHECK: mcc.qmatmul %arg0 {{{.*}}scheme = "Q6_K", weights = ["v"]}
func.func @mixed_layouts(%x: tensor<1x64xf32>) -> (tensor<1x64xf32>, tensor<1x32xf32>, tensor<1x32xf32>) {
  %q = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 64>, scheme = "PK4", weights = ["q"]} : tensor<1x64xf32> -> tensor<1x64xf32>
  %k = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 32>, scheme = "PK4", weights = ["k"]} : tensor<1x64xf32> -> tensor<1x32xf32>
  %v = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 32>, scheme = "Q6_K", weights = ["v"]} : tensor<1x64xf32> -> tensor<1x32xf32>
  return %q, %k, %v : tensor<1x64xf32>, tensor<1x32xf32>, tensor<1x32xf32>
}

// Different inputs, or a residual epilogue: nothing merges.
// CHECK-LABEL: func.func @no_merge
// CHECK-COUNT-3: mcc.qmatmul {{.*}}weights = ["{{[abc]}}"]
// CHECK-NOT: mcc.qmatmul
func.func @no_merge(%x: tensor<1x64xf32>, %y: tensor<1x64xf32>) -> (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>) {
  %a = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 64>, scheme = "Q4_0", weights = ["a"]} : tensor<1x64xf32> -> tensor<1x64xf32>
  %b = mcc.qmatmul %y {cols = 64 : i64, rows = array<i64: 64>, scheme = "Q4_0", weights = ["b"]} : tensor<1x64xf32> -> tensor<1x64xf32>
  %c = mcc.qmatmul %x residual %y {cols = 64 : i64, rows = array<i64: 64>, scheme = "Q4_0", weights = ["c"]} : tensor<1x64xf32> residual tensor<1x64xf32> -> tensor<1x64xf32>
  return %a, %b, %c : tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>
}
