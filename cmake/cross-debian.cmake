# Shared part of cmake/toolchain-<arch>.cmake: Debian's cross gcc for
# MPCONV_CROSS_TRIPLET, the target's libraries from a sysroot of unpacked
# Debian packages (made by scripts/cross-build.sh), and qemu-user to run
# what is built (ctest runs the unit tests through it).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${MPCONV_CROSS_TRIPLET}-gcc)

# The target's Debian packages, unpacked (the script says why not installed).
get_filename_component(MPCONV_CROSS_SYSROOT
  "${CMAKE_CURRENT_LIST_DIR}/../build-sysroot-${MPCONV_CROSS_ARCH}" ABSOLUTE)
if(NOT EXISTS ${MPCONV_CROSS_SYSROOT}/.packages)
  message(FATAL_ERROR "no ${MPCONV_CROSS_SYSROOT}: run scripts/cross-build.sh ${MPCONV_CROSS_ARCH} once")
endif()
set(CMAKE_SYSROOT ${MPCONV_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH ${MPCONV_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The host's pkg-config, reading only the target's multiarch .pc files.
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_LIBDIR}
  "${MPCONV_CROSS_SYSROOT}/usr/lib/${MPCONV_CROSS_TRIPLET}/pkgconfig:${MPCONV_CROSS_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${MPCONV_CROSS_SYSROOT})

# -L: the target's dynamic loader and libraries come from the sysroot.
set(CMAKE_CROSSCOMPILING_EMULATOR ${MPCONV_CROSS_QEMU} -L ${MPCONV_CROSS_SYSROOT})
