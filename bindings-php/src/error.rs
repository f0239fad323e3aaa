//! The exception classes: `WikiSync\Exception` (extends `\Exception`, adds
//! `getErrorCode(): string`) and one subclass per [`ErrorKind`], and the throwing of a
//! [`WireError`] as one of them.
//!
//! They are plain PHP exception classes, registered at module startup without a Rust object
//! behind them: the engine creates their objects as it creates any `\Exception`, so
//! `getFile()`, `getLine()` and `getTrace()` point at the PHP code that called the extension,
//! and PHP code may construct them too. The code is kept in the protected property
//! `errorCode`.

use std::cell::Cell;
use std::ptr;

use ext_php_rs::args::ArgInfoTables;
use ext_php_rs::builders::{ClassBuilder, ClassProperty, FunctionBuilder};
use ext_php_rs::convert::IntoZval;
use ext_php_rs::error::{Result, php_error};
use ext_php_rs::exception::PhpException;
use ext_php_rs::flags::{DataType, ErrorType, MethodFlags, PropertyFlags};
use ext_php_rs::types::{ZendObject, Zval};
use ext_php_rs::zend::{ClassEntry, ExecuteData, ExecutorGlobals, ce};
use ext_php_rs::zend_fastcall;
use wikisync_core::wire::{ErrorKind, WireError};

/// The base class of every wikisync error.
const BASE: &str = "WikiSync\\Exception";

/// The property holding the stable code.
const CODE: &str = "errorCode";

/// The class of each kind, in registration order.
const KINDS: [ErrorKind; 5] = [
    ErrorKind::PageId,
    ErrorKind::Decode,
    ErrorKind::Setup,
    ErrorKind::Media,
    ErrorKind::InvalidArgument,
];

fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::PageId => "WikiSync\\PageIdException",
        ErrorKind::Decode => "WikiSync\\DecodeException",
        ErrorKind::Setup => "WikiSync\\SetupException",
        ErrorKind::Media => "WikiSync\\MediaException",
        ErrorKind::InvalidArgument => "WikiSync\\InvalidArgumentException",
        _ => BASE,
    }
}

/// The module startup function: registers the classes (0 is PHP's `SUCCESS`; on `FAILURE`,
/// -1, PHP refuses the module after the warning that says why).
pub(crate) extern "C" fn register(_type: i32, _module: i32) -> i32 {
    match register_classes() {
        Ok(()) => 0,
        Err(e) => {
            let message = format!("wikisync: cannot register the exception classes: {e}");
            php_error(&ErrorType::CoreWarning, &message);
            -1
        }
    }
}

fn register_classes() -> Result<()> {
    let get_error_code = FunctionBuilder::new("getErrorCode", get_error_code)
        .returns(DataType::String, false, false)
        .docs(&["The stable code of the error, e.g. `path_traversal` or `invalid_argument`."]);
    ClassBuilder::new(BASE)
        .extends((ce::exception, "\\Exception"))
        .property(ClassProperty {
            name: CODE.into(),
            flags: PropertyFlags::Protected,
            default: Some(Box::new(|| "".into_zval(false))),
            docs: &[],
            ty: Some(DataType::String),
            nullable: false,
            readonly: false,
            default_stub: Some("''".into()),
        })
        .method(get_error_code, MethodFlags::Public)
        .registration(|class, tables| {
            BASE_CLASS.set(Some(class));
            keep_forever(tables);
        })
        .register()?;
    for kind in KINDS {
        ClassBuilder::new(class_name(kind))
            .extends((base, BASE))
            .registration(|_, tables| keep_forever(tables))
            .register()?;
    }
    Ok(())
}

/// The engine points at the method tables of a registered class until the process ends.
fn keep_forever(tables: ArgInfoTables) {
    std::mem::forget(tables);
}

thread_local! {
    /// `WikiSync\Exception` once registered: the class table cannot be searched during
    /// startup, and the startup registers its subclasses on the same thread.
    static BASE_CLASS: Cell<Option<&'static ClassEntry>> = const { Cell::new(None) };
}

fn base() -> &'static ClassEntry {
    // Registered just before its subclasses; `\Exception` keeps them exceptions regardless.
    BASE_CLASS.get().unwrap_or_else(ce::exception)
}

zend_fastcall! {
    /// `WikiSync\Exception::getErrorCode(): string`.
    extern "C" fn get_error_code(ex: &mut ExecuteData, retval: &mut Zval) {
        let code = ex.get_self().and_then(|this| this.get_property::<String>(CODE).ok());
        // A code is a short ASCII identifier, which always makes a PHP string.
        let _ = retval.set_string(&code.unwrap_or_default(), false);
    }
}

/// Why a method failed: the core refused an argument, or the PHP value could not be built.
#[derive(Debug)]
pub enum Failure {
    /// An error of the core, thrown as the exception class of its kind.
    Wire(WireError),
    /// An error of ext-php-rs, thrown as `\Exception`.
    Php(ext_php_rs::error::Error),
}

impl<E: Into<WireError>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Wire(error.into())
    }
}

impl From<Failure> for PhpException {
    fn from(failure: Failure) -> PhpException {
        match failure {
            Failure::Wire(error) => exception(&error),
            Failure::Php(error) => error.into(),
        }
    }
}

/// The exception to throw for `error`: an object of its kind's class with its message and
/// code.
fn exception(error: &WireError) -> PhpException {
    let fallback = PhpException::new(error.message.clone(), 0, ce::exception());
    let Some(class) = ClassEntry::try_find(class_name(error.kind)) else {
        return fallback;
    };
    let mut object = ZendObject::new(class);
    let filled = as_code_of(class, || {
        object.set_property("message", error.message.as_str())?;
        object.set_property(CODE, error.code)
    });
    match filled.and_then(|()| object.into_zval(false)) {
        Ok(object) => fallback.with_object(object),
        Err(_) => fallback,
    }
}

/// Runs `f` as code of `class`, so that it may write the class's protected properties: what
/// the engine's `zend_update_property` does.
fn as_code_of<T>(class: &ClassEntry, f: impl FnOnce() -> T) -> T {
    let scope = ptr::from_ref(class).cast_mut();
    let outer = std::mem::replace(&mut ExecutorGlobals::get_mut().fake_scope, scope);
    let result = f();
    ExecutorGlobals::get_mut().fake_scope = outer;
    result
}
