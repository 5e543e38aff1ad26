// RUN: mcc-opt --mcc-lower-to-llvm %s | FileCheck %s

// Matrix products become calls through the McApi table (field index = op
// kind) with shapes, weight indices and workspace offsets as constants; the
// fused RMSNorm prologue becomes a generated region that McApi.parallel
// (field 10) runs on every thread, writing a buffer of its own that the
// product then reads. Workspace: the embedding (32 floats) at 0, Q (32) at
// 32, K (16) at 64, the normed activations (32) at 80: 112 floats.
// CHECK: module attributes {mcc.weights = ["emb", "n", "q", "k"], mcc.workspace_floats = 112 : i64}
// CHECK: llvm.func @mcc_step(%[[API:arg[0-9]]]: !llvm.ptr, %[[EXEC:arg[0-9]]]: !llvm.ptr, %[[WS:arg[0-9]]]: !llvm.ptr, %[[TOK:arg[0-9]]]: !llvm.ptr, %{{.*}}: i32) -> !llvm.ptr attributes {passthrough = ["nounwind", "no-builtins"]}
// embedding: McApi field 0, weight 0, 1 row of 32, into the workspace at 0
// (the offset-0 address folds to the workspace itself)
// CHECK: %[[F0:.*]] = llvm.getelementptr %[[API]][0, 0]
// CHECK: %[[E:.*]] = llvm.load %[[F0]]
// CHECK: llvm.call %[[E]](%[[EXEC]], %{{.*}}, %[[TOK]], %{{.*}}, %{{.*}}, %[[WS]])
// the prologue: region 0 on every thread
// CHECK: %[[F10:.*]] = llvm.getelementptr %[[API]][0, 10]
// CHECK: %[[PAR:.*]] = llvm.load %[[F10]]
// CHECK: llvm.call %[[PAR]](%[[EXEC]], %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32) -> ()
// qmatmul: field 2, no prologue left (0), reading the normed rows at 80,
// results at 32 and 64
// CHECK: %[[Q:.*]] = llvm.getelementptr %[[WS]][32]
// CHECK: %[[K:.*]] = llvm.getelementptr %[[WS]][64]
// CHECK: %[[NORMED:.*]] = llvm.getelementptr %[[WS]][80]
// CHECK: %[[F2:.*]] = llvm.getelementptr %[[API]][0, 2]
// CHECK: llvm.call %{{.*}}(%[[EXEC]], %{{.*}}, %{{.*}}, %{{.*}}, %[[NORMED]],
// CHECK: %[[RET:.*]] = llvm.getelementptr %[[WS]][64]
// CHECK: llvm.return %[[RET]]
// The region: its slice of the rows from (thread, n_threads), the norm weight
// from McApi.small_vector (field 9), a sum of squares in f64, 1/sqrt.
// CHECK: llvm.func @mcc_region_0(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i32, %[[T:.*]]: i32, %[[NT:.*]]: i32)
// CHECK: llvm.sdiv
// CHECK: llvm.getelementptr %{{.*}}[0, 9]
// CHECK: llvm.fadd {{.*}} {fastmathFlags = #llvm.fastmath<reassoc>} : f64
// CHECK: llvm.intr.sqrt
// CHECK: llvm.return
// CHECK-NOT: mcc.
// CHECK-NOT: func.func
// CHECK-NOT: scf.
// CHECK-NOT: arith.
module attributes {mcc.weights = ["emb", "n", "q", "k"]} {
  func.func @step(%tok: tensor<1xi32>, %pos: i32) -> tensor<1x16xf32> {
    %x = mcc.embedding %tok {hidden = 32 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x32xf32>
    %qk:2 = mcc.qmatmul %x {cols = 32 : i64, eps = 1.0e-5 : f32, norm = "n", prologue = "rms_norm", rows = array<i64: 32, 16>, scheme = "F32", weights = ["q", "k"]} : tensor<1x32xf32> -> tensor<1x32xf32>, tensor<1x16xf32>
    return %qk#1 : tensor<1x16xf32>
  }
}
