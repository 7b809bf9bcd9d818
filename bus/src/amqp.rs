//! The RabbitMQ (AMQP 0-9-1) backend, through lapin.
