mod request;
mod schema;
