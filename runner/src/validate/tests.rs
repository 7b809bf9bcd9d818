mod form;
mod formats;
mod request;
mod schema;
