mod form;
mod formats;
mod keywords;
mod request;
mod schema;
