// RUN: mcc-opt --mcc-fuse-residual %s | FileCheck %s

// CHECK-LABEL: func.func @fuse
// CHECK-NOT: mcc.add
// CHECK: %[[D:.*]] = mcc.qmatmul %arg1 residual %arg0 {{{.*}}weights = ["o"]}
// CHECK: return %[[D]]
func.func @fuse(%x: tensor<1x32xf32>, %a: tensor<1x32xf32>) -> tensor<1x32xf32> {
  %o = mcc.qmatmul %a {cols = 32 : i64, rows = array<i64: 32>, scheme = "Q4_0", weights = ["o"]} : tensor<1x32xf32> -> tensor<1x32xf32>
  %y = mcc.add %x, %o : tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// The product is needed on its own too, or the matmul has several weights:
// the add stays.
// CHECK-LABEL: func.func @product_used
// CHECK: mcc.add
// CHECK-LABEL: func.func @merged
// CHECK: mcc.add
func.func @product_used(%x: tensor<1x32xf32>, %a: tensor<1x32xf32>) -> (tensor<1x32xf32>, tensor<1x32xf32>) {
  %o = mcc.qmatmul %a {cols = 32 : i64, rows = array<i64: 32>, scheme = "Q4_0", weights = ["o"]} : tensor<1x32xf32> -> tensor<1x32xf32>
  %y = mcc.add %x, %o : tensor<1x32xf32>
  return %y, %o : tensor<1x32xf32>, tensor<1x32xf32>
}
func.func @merged(%x: tensor<1x32xf32>, %a: tensor<1x32xf32>) -> tensor<1x32xf32> {
  %o:2 = mcc.qmatmul %a {cols = 32 : i64, rows = array<i64: 32, 32>, scheme = "Q4_0", weights = ["o", "p"]} : tensor<1x32xf32> -> tensor<1x32xf32>, tensor<1x32xf32>
  %y = mcc.add %x, %o#0 : tensor<1x32xf32>
  %z = mcc.add %y, %o#1 : tensor<1x32xf32>
  return %z : tensor<1x32xf32>
}
