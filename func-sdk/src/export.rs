//! The `export!` macro and the glue it expands to.

/// Exports handlers as operations of a wasm32 Func module.
///
/// Each entry is either a handler function, exported under its own name, or
/// `"operationId" => handler` when the `operationId` is not a Rust-style
/// name. Invoke it once per crate: it also exports `funcmesh_alloc` and
/// `funcmesh_abi_version`.
///
/// ```
/// use func_sdk::{Request, Response};
///
/// fn greet(_req: Request) -> &'static str { "hi" }
/// fn list_pets(_req: Request) -> Response { Response::ok() }
///
/// func_sdk::export! { greet, "listPets" => list_pets }
/// ```
///
/// On wasm32 this emits one `extern "C" fn(ptr: i32, len: i32) -> i64` per
/// operation (see [`abi`](crate::abi)). Natively it emits nothing callable,
/// but still checks that each handler is a `fn(Request) -> impl IntoResponse`
/// and counts as a use of it, so native builds stay free of dead-code noise.
#[macro_export]
macro_rules! export {
    ($($ops:tt)*) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(export_name = "funcmesh_alloc")]
            extern "C" fn __funcmesh_alloc(len: i32) -> i32 {
                $crate::__private::alloc(len)
            }

            #[unsafe(export_name = "funcmesh_abi_version")]
            extern "C" fn __funcmesh_abi_version() -> i32 {
                $crate::abi::ABI_VERSION
            }
        };
        $crate::__export_ops! { $($ops)* }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_ops {
    () => {};
    ($op:literal => $handler:path $(, $($rest:tt)*)?) => {
        $crate::__export_op!($op, $handler);
        $($crate::__export_ops! { $($rest)* })?
    };
    ($handler:ident $(, $($rest:tt)*)?) => {
        $crate::__export_op!(::core::stringify!($handler), $handler);
        $($crate::__export_ops! { $($rest)* })?
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_op {
    ($op:expr, $handler:path) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(export_name = $op)]
            extern "C" fn __funcmesh_operation(ptr: i32, len: i32) -> i64 {
                // SAFETY: the host calls operations only with a buffer it got
                // from `funcmesh_alloc` and filled, as the ABI requires.
                unsafe { $crate::__private::call(ptr, len, $handler) }
            }
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            // `allow(dead_code)` makes this a root of the dead-code analysis,
            // so the handler counts as used.
            #[allow(dead_code)]
            fn __funcmesh_check() {
                $crate::__private::check_handler($handler);
            }
        };
    };
}

/// What the macro expansion calls; not part of the public API.
#[doc(hidden)]
pub mod __private {
    use crate::abi::{self, AbiError};
    use crate::{IntoResponse, Request, Response};

    /// A 500 with no headers, used if even encoding the response fails.
    pub(crate) const FALLBACK_OUTPUT: &[u8] = b"\x0e\0\0\0{\"status\":500}";

    /// Type-checks a handler on targets where nothing is exported.
    pub fn check_handler<R: IntoResponse>(_handler: impl FnOnce(Request) -> R) {}

    /// Runs a handler on a decoded request and encodes its response; a
    /// request the guest cannot decode is answered 500 rather than trapping,
    /// so the host sees why.
    pub(crate) fn respond<R: IntoResponse>(
        request: Result<Request, AbiError>,
        handler: impl FnOnce(Request) -> R,
    ) -> Vec<u8> {
        let response = match request {
            Ok(request) => handler(request).into_response(),
            Err(e) => crate::Error::internal(format!("funcmesh guest cannot read its input: {e}"))
                .into_response(),
        };
        encode(&response).unwrap_or_else(|_| FALLBACK_OUTPUT.to_vec())
    }

    pub(crate) fn encode(response: &Response) -> Result<Vec<u8>, AbiError> {
        abi::encode_output(&response.meta, &response.body)
    }

    #[cfg(target_arch = "wasm32")]
    pub use wasm::{alloc, call};

    #[cfg(target_arch = "wasm32")]
    mod wasm {
        use std::borrow::Cow;

        use super::*;

        /// `funcmesh_alloc`: leaks `len` zeroed bytes for the host to fill.
        pub fn alloc(len: i32) -> i32 {
            // i32 is how wasm passes a u32 length; the bits are the length.
            let buf = vec![0u8; len as u32 as usize].into_boxed_slice();
            Box::into_raw(buf).cast::<u8>() as usize as i32
        }

        /// One operation: decode, run, encode, and leak the output for the
        /// host to read.
        ///
        /// # Safety
        /// `ptr..ptr + len` must be a buffer from [`alloc`] that the host
        /// filled; it is never freed, hence `'static`.
        pub unsafe fn call<R: IntoResponse>(
            ptr: i32,
            len: i32,
            handler: impl FnOnce(Request) -> R,
        ) -> i64 {
            // SAFETY: guaranteed by the caller, see above.
            let input: &'static [u8] = unsafe {
                std::slice::from_raw_parts(ptr as u32 as usize as *const u8, len as u32 as usize)
            };
            let request = abi::decode_input(input)
                .map(|(meta, body)| Request::from_parts(meta, Cow::Borrowed(body)));
            let out = std::mem::ManuallyDrop::new(respond(request, handler));
            abi::pack_ptr_len(out.as_ptr() as usize as u32, out.len() as u32)
        }
    }
}
