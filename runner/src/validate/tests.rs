mod formats;
mod request;
mod schema;
