// RUN: mcc-opt --mcc-lower-to-llvm %s | FileCheck %s

// Every op becomes a call through the McApi table (field index = op kind),
// with shapes, weight indices and workspace offsets as constants, and a
// workspace reused once a value is dead.
// The embedding (32 floats) at offset 0, then Q (32) and K (16) after it: 80.
// CHECK: module attributes {mcc.weights = ["emb", "n", "q", "k"], mcc.workspace_floats = 80 : i64}
// CHECK: llvm.func @mcc_step(%[[API:arg[0-9]]]: !llvm.ptr, %[[EXEC:arg[0-9]]]: !llvm.ptr, %[[WS:arg[0-9]]]: !llvm.ptr, %[[TOK:arg[0-9]]]: !llvm.ptr, %{{.*}}: i32) -> !llvm.ptr attributes {passthrough = ["nounwind"]}
// embedding: McApi field 0, weight 0, 1 row of 32, into the workspace at 0
// CHECK: %[[OUT0:.*]] = llvm.getelementptr %[[WS]][0]
// CHECK: %[[F0:.*]] = llvm.getelementptr %[[API]][0, 0]
// CHECK: %[[E:.*]] = llvm.load %[[F0]]
// CHECK: llvm.call %[[E]](%[[EXEC]], %{{.*}}, %[[TOK]], %{{.*}}, %{{.*}}, %[[OUT0]])
// qmatmul: field 2; eps 1e-5 as its bits; results at 32 and 64
// CHECK: llvm.mlir.constant(925353388 : i32)
// CHECK: llvm.getelementptr %[[WS]][32]
// CHECK: %[[K:.*]] = llvm.getelementptr %[[WS]][64]
// CHECK: %[[F2:.*]] = llvm.getelementptr %[[API]][0, 2]
// CHECK: llvm.call
// CHECK: %[[RET:.*]] = llvm.getelementptr %[[WS]][64]
// CHECK: llvm.return %[[RET]]
// CHECK-NOT: mcc.
// CHECK-NOT: func.func
module attributes {mcc.weights = ["emb", "n", "q", "k"]} {
  func.func @step(%tok: tensor<1xi32>, %pos: i32) -> tensor<1x16xf32> {
    %x = mcc.embedding %tok {hidden = 32 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x32xf32>
    %qk:2 = mcc.qmatmul %x {cols = 32 : i64, eps = 1.0e-5 : f32, norm = "n", prologue = "rms_norm", rows = array<i64: 32, 16>, scheme = "F32", weights = ["q", "k"]} : tensor<1x32xf32> -> tensor<1x32xf32>, tensor<1x16xf32>
    return %qk#1 : tensor<1x16xf32>
  }
}
