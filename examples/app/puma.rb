# frozen_string_literal: true

# Puma in cluster mode for examples/app/config.ru: two forked workers with a
# few threads each, the app (and the session store's native client) loaded
# once in the master before forking. The store needs no fork hooks: its
# native runtime and DynamoDB client are rebuilt in each worker.
workers 2
threads 4, 4
preload_app!
bind "tcp://127.0.0.1:#{ENV.fetch("PORT", "9292")}"
pidfile ENV["PUMA_PIDFILE"] if ENV["PUMA_PIDFILE"]
environment "production"
