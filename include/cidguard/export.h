/*
 * Symbol visibility of the public API.  The library is compiled with
 * -fvisibility=hidden, so only declarations marked CG_EXTERN are exported
 * from libcidguard.so and its companion libraries; everything else, the
 * internal cg__ helpers included, stays private to the library.
 */
#ifndef CIDGUARD_EXPORT_H
#define CIDGUARD_EXPORT_H

#if defined(CG_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define CG_EXTERN __attribute__((visibility("default")))
#else
#define CG_EXTERN
#endif

#endif
