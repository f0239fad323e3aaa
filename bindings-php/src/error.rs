//! The exception classes: `WikiSync\Exception` (extends `\Exception`, adds
//! `getErrorCode(): string`) and its subclasses, one per kind of failure. Each is thrown with
//! the core error's stable `code()` and its one-sentence message.
//!
//! ext-php-rs gives each Rust-defined class its own object handlers, so a method of the base
//! class does not work on a subclass instance: every class re-declares `getErrorCode` through
//! the [`Coded`] trait (the pattern of the ext-php-rs guide, "Sharing Methods Between Parent and
//! Child Classes").

use ext_php_rs::class::RegisteredClass;
use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::{PhpException, throw_object, throw_with_code};
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendClassObject;
use ext_php_rs::zend::{ExecutorGlobals, ce};
use wikisync_core::entry::DecodeError;
use wikisync_core::id::PageIdError;

/// The code of every [`InvalidArgumentException`].
pub(crate) const INVALID_ARGUMENT: &str = "invalid_argument";

/// An exception class that carries a stable error code.
trait Coded: RegisteredClass + Default {
    /// Stores the code in the Rust half of the object.
    fn set_code(&mut self, code: &str);
}

/// Base class of every wikisync error: `WikiSync\Exception extends \Exception`.
#[php_class]
#[php(name = "WikiSync\\Exception")]
#[php(extends(ce = ce::exception, stub = "\\Exception"))]
#[derive(Default)]
pub struct WikiSyncException {
    code: String,
}

#[php_impl]
impl WikiSyncException {
    /// The stable machine-readable code of the error (the core's `code()`, e.g.
    /// `hash_mismatch`, `path_traversal`, `invalid_argument`).
    pub fn get_error_code(&self) -> String {
        self.code.clone()
    }
}

/// A page id was refused (`WikiSync\PageId::clean`, or a page id inside an argument). The code
/// is the core's `PageIdError::code()`.
#[php_class]
#[php(name = "WikiSync\\PageIdException")]
#[php(extends(WikiSyncException))]
#[derive(Default)]
pub struct PageIdException {
    code: String,
}

#[php_impl]
impl PageIdException {
    /// The stable machine-readable code of the error, e.g. `path_traversal`.
    pub fn get_error_code(&self) -> String {
        self.code.clone()
    }
}

/// `WikiSync\Entry::decode` refused the XML. The code is the core's `DecodeError::code()`.
#[php_class]
#[php(name = "WikiSync\\DecodeException")]
#[php(extends(WikiSyncException))]
#[derive(Default)]
pub struct DecodeException {
    code: String,
}

#[php_impl]
impl DecodeException {
    /// The stable machine-readable code of the error, e.g. `hash_mismatch`.
    pub fn get_error_code(&self) -> String {
        self.code.clone()
    }
}

/// An argument does not have the documented shape (a missing or mistyped key, a string that
/// is not UTF-8, an unknown option). The code is always `invalid_argument`.
#[php_class]
#[php(name = "WikiSync\\InvalidArgumentException")]
#[php(extends(WikiSyncException))]
#[derive(Default)]
pub struct InvalidArgumentException {
    code: String,
}

#[php_impl]
impl InvalidArgumentException {
    /// The stable machine-readable code of the error: `invalid_argument`.
    pub fn get_error_code(&self) -> String {
        self.code.clone()
    }
}

impl Coded for WikiSyncException {
    fn set_code(&mut self, code: &str) {
        code.clone_into(&mut self.code);
    }
}

impl Coded for PageIdException {
    fn set_code(&mut self, code: &str) {
        code.clone_into(&mut self.code);
    }
}

impl Coded for DecodeException {
    fn set_code(&mut self, code: &str) {
        code.clone_into(&mut self.code);
    }
}

impl Coded for InvalidArgumentException {
    fn set_code(&mut self, code: &str) {
        code.clone_into(&mut self.code);
    }
}

/// Throws an exception of class `T` with `message` and the error code `code`, and returns the
/// value to hand back to ext-php-rs (which throws nothing more while an exception is pending).
///
/// The engine builds the exception object (so message, file, line and trace are set as for any
/// exception); the code is then written into its Rust half and the object rethrown.
fn throw_coded<T: Coded>(code: &str, message: &str) -> PhpException {
    let fallback = PhpException::from_class::<T>(message.to_owned());
    if throw_with_code(T::get_metadata().ce(), 0, message).is_err() {
        return fallback;
    }
    let Some(mut object) = ExecutorGlobals::take_exception() else {
        return fallback;
    };
    if let Some(this) = ZendClassObject::<T>::from_zend_obj_mut(&mut object) {
        this.set_code(code);
    }
    match object.into_zval(false) {
        Ok(zval) => {
            if throw_object(zval).is_err() {
                return fallback;
            }
        }
        Err(_) => return fallback,
    }
    fallback
}

/// A `WikiSync\PageIdException` for a refused page id.
pub(crate) fn page_id(error: &PageIdError) -> PhpException {
    throw_coded::<PageIdException>(error.code(), &error.to_string())
}

/// A `WikiSync\DecodeException` for a refused entry.
pub(crate) fn decode(error: &DecodeError) -> PhpException {
    throw_coded::<DecodeException>(error.code(), &error.to_string())
}

/// A `WikiSync\InvalidArgumentException` (code `invalid_argument`).
pub(crate) fn invalid_argument(message: &str) -> PhpException {
    throw_coded::<InvalidArgumentException>(INVALID_ARGUMENT, message)
}
