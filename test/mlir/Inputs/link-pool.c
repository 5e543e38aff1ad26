// Constants that land in a constant pool (.rodata.cst*) referenced
// PC-relative, and a call between two functions of the object.
__attribute__((noinline)) static float scale(float x) { return x * 0.3183099f + 1.6180339f; }
float mcc_entry(float x, double y) { return scale(x) + (float)(y * 2.7182818); }
