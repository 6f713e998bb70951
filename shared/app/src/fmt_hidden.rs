//! `Debug` for types whose fields cannot or must not be printed: services holding adapters
//! behind generic parameters and trait objects (`Arc<dyn Clock>` is not `Debug`), and holders
//! of secrets. They print as `Name { .. }`, whatever their parameters.

/// Implements `Debug` as `Name { .. }` for `Name` or `Name<A, B, ..>` (no bounds on the
/// parameters). Use it only where `#[derive(Debug)]` cannot work or would print a secret.
/// Exported as `klaxon_app::opaque_debug!` for the adapters and the Lambda handlers too.
#[macro_export]
macro_rules! opaque_debug {
    ($name:ident $(< $($param:ident),+ >)?) => {
        impl $(< $($param),+ >)? ::std::fmt::Debug for $name $(< $($param),+ >)? {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use crate::opaque_debug;

#[cfg(test)]
mod tests {
    struct Secretive<T> {
        #[allow(dead_code)]
        secret: T,
    }
    opaque_debug!(Secretive<T>);

    struct Plain {
        #[allow(dead_code)]
        secret: &'static str,
    }
    opaque_debug!(Plain);

    #[test]
    fn only_the_name_is_printed() {
        let generic = Secretive { secret: "hunter2" };
        assert_eq!(format!("{generic:?}"), "Secretive { .. }");
        let plain = Plain { secret: "hunter2" };
        assert_eq!(format!("{plain:?}"), "Plain { .. }");
    }
}
