# Static AArch64 executables cross-compiled with clang against Debian's cross
# sysroot (scripts/setup.sh installs it), one object per source so ninja
# builds them in parallel. Used for the AArch64 runtime that
# `mcc compile --target aarch64` builds on, and for the kernel check that
# runs under qemu-aarch64. Skipped when the cross sysroot is missing, and in
# sanitizer builds (which test the host code).
find_program(CLANGXX_19 clang++-19)
if(CLANGXX_19 AND EXISTS /usr/aarch64-linux-gnu/include/c++ AND NOT MCC_SANITIZE AND NOT MCC_FUZZ)
  set(MCC_AARCH64 ON)
else()
  set(MCC_AARCH64 OFF)
  message(STATUS "No AArch64 cross sysroot: AArch64 targets skipped")
endif()

function(mcc_aarch64_executable name)
  if(NOT MCC_AARCH64)
    return()
  endif()
  set(objects)
  file(GLOB_RECURSE headers ${CMAKE_SOURCE_DIR}/format/*.h ${CMAKE_SOURCE_DIR}/kernels/*.h
       ${CMAKE_SOURCE_DIR}/runtime/*.h ${CMAKE_SOURCE_DIR}/runtime/*.inc)
  foreach(src ${ARGN})
    file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${src})
    set(obj ${CMAKE_BINARY_DIR}/aarch64/${name}/${rel}.o)
    # The object's own folder: ninja makes it, the Makefile generator does not.
    get_filename_component(objdir ${obj} DIRECTORY)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${objdir}
      # No AArch64 libzstd here: that runtime reads raw-packed weights only.
      COMMAND ${CLANGXX_19} --target=aarch64-linux-gnu -std=c++20 -O2 -DNDEBUG -DMCC_NO_ZSTD -I${CMAKE_SOURCE_DIR}
              -I${MCC_HTTPLIB_DIR}
              -c ${src} -o ${obj}
      DEPENDS ${src} ${headers}
      COMMENT "AArch64: ${rel}")
    list(APPEND objects ${obj})
  endforeach()
  add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/bin/${name}
    COMMAND ${CLANGXX_19} --target=aarch64-linux-gnu -static -fuse-ld=lld ${objects} -o ${CMAKE_BINARY_DIR}/bin/${name}
    DEPENDS ${objects}
    COMMENT "AArch64: linking ${name}")
  add_custom_target(${name} ALL DEPENDS ${CMAKE_BINARY_DIR}/bin/${name})
endfunction()
