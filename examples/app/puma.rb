# frozen_string_literal: true

# Puma in cluster mode for examples/app/config.ru: two forked workers with a
# few threads each, the app (and the session store's native client) loaded
# once in the master before forking. The store needs no fork hooks: its
# native runtime and DynamoDB client are rebuilt in each worker.
workers 2
threads 4, 4
preload_app!
# DEMO_TLS=1: https with DEMO_TLS_CERT / DEMO_TLS_KEY (PEM files), so the
# page's cookie can be Secure (the browser spec makes a throwaway pair).
if ENV["DEMO_TLS"] == "1"
  ssl_bind "127.0.0.1", ENV.fetch("PORT", "9292"), cert: ENV.fetch("DEMO_TLS_CERT"), key: ENV.fetch("DEMO_TLS_KEY")
else
  bind "tcp://127.0.0.1:#{ENV.fetch("PORT", "9292")}"
end
pidfile ENV["PUMA_PIDFILE"] if ENV["PUMA_PIDFILE"]
environment "production"
