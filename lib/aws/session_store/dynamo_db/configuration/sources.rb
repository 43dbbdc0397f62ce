# frozen_string_literal: true

module Aws
  module SessionStore
    module DynamoDB
      class Configuration
        # Where options come from, before they are normalized and validated
        # (configuration.rb): ENV (`AWS_DYNAMO_DB_SESSION_*`, then the legacy
        # `DYNAMO_DB_SESSION_*`), the YAML file (ERB, `YAML.safe_load`, a
        # Rails environment's section) and the runtime Hash, merged in that
        # order of precedence.
        # @api private
        module Sources
          private

          def merge_sources(runtime)
            env = env_options
            path = runtime[:config_file] || env[:config_file]
            check_config_file(path)
            file = path ? file_options(path) : {}
            sources = [compact(file), compact(env), compact(runtime)]
            @explicit = sources.flat_map(&:keys).uniq
            merged = sources.reduce(MEMBERS) { |acc, source| acc.merge(source) }
            merged[:config_file] = path
            merged
          end

          def env_options
            report_unknown_env
            (OPTION_NAMES - RUNTIME_ONLY_OPTIONS).each_with_object({}) do |name, opts|
              value = env_value(name)
              opts[name] = parse_env_option(name, value) unless value.nil?
            end
          end

          # Variables under either prefix that name no option (a typo, or
          # an option read at runtime only).
          def report_unknown_env
            [ENV_PREFIX, LEGACY_ENV_PREFIX].each do |prefix|
              names = ENV.keys.select { |var| var.start_with?(prefix) }.map { |var| var.delete_prefix(prefix) }
              known = (OPTION_NAMES - RUNTIME_ONLY_OPTIONS).map { |name| name.to_s.upcase }
              UnknownOptions.report(names, known: known, source: "ENV", prefix: prefix)
            end
          end

          # Booleans strictly (EnvFlag: on/off words, anything else an error),
          # secrets lists split at commas or spaces, text options as they
          # are, the rest as numbers where they look so.
          def parse_env_option(name, value)
            type = OPTIONS_BY_NAME[name].type
            return EnvFlag.parse("#{ENV_PREFIX}#{name.to_s.upcase}", value) if type == :boolean
            return value.split(/[\s,]+/).reject(&:empty?) if type == :secrets

            TEXT_OPTIONS.include?(name) ? value : parse_env_value(value)
          end

          def env_value(name)
            var = "#{ENV_PREFIX}#{name.to_s.upcase}"
            value = ENV.fetch(var, nil)
            return value unless value.nil? || value.empty?

            legacy = "#{LEGACY_ENV_PREFIX}#{name.to_s.upcase}"
            value = ENV.fetch(legacy, nil)
            return nil if value.nil? || value.empty?

            self.class.warn_legacy_env(legacy, var)
            value
          end

          def parse_env_value(value)
            case value
            when /\A-?\d+\z/ then Integer(value, 10)
            when /\A-?\d*\.\d+\z/ then Float(value)
            else value
            end
          end

          def file_options(path)
            unless File.file?(path)
              raise Errors::ConfigurationError, ":config_file #{path.to_s.inspect} does not exist"
            end

            data = load_yaml(path)
            data = rails_section(data)
            unless data.is_a?(Hash)
              raise Errors::ConfigurationError,
                    ":config_file #{path.to_s.inspect} must hold a Hash of options (got #{data.class})"
            end
            options = symbolize_keys(data)
            report_unknown_file_keys(options, path)
            options.reject { |name, _| RUNTIME_ONLY_OPTIONS.include?(name) || name == :config_file }
          end

          # Keys of the file that name no option. A Hash value is taken for
          # an environment's section (read only under Rails) and passes.
          def report_unknown_file_keys(options, path)
            names = options.reject { |_, value| value.is_a?(Hash) }.keys
            UnknownOptions.report(names, known: OPTION_NAMES - RUNTIME_ONLY_OPTIONS + %i[config_file],
                                         source: "config file #{File.basename(path.to_s)}")
          end

          def load_yaml(path)
            # Loaded on demand: most apps configure by options or ENV, and
            # these two cost ~50 ms and megabytes at boot.
            require "erb"
            require "yaml"
            text = ERB.new(File.read(path)).result
            YAML.safe_load(text, permitted_classes: [Symbol], aliases: true, filename: path.to_s) || {}
          rescue Errors::Error
            raise
          rescue StandardError, SyntaxError => e
            raise Errors::ConfigurationError,
                  ":config_file #{path.to_s.inspect} could not be read (#{e.class}: #{e.message})"
          end

          def rails_section(data)
            return data unless data.is_a?(Hash) && defined?(::Rails) && ::Rails.respond_to?(:env)

            env = ::Rails.env.to_s
            return data[env] if data.key?(env)
            return data[env.to_sym] if data.key?(env.to_sym)

            data
          end

          def compact(hash)
            hash.reject { |_, value| value.nil? }
          end

          def symbolize_keys(hash)
            unless hash.respond_to?(:each_pair)
              raise Errors::ConfigurationError, "options must be a Hash (got #{hash.class})"
            end

            hash.to_h.transform_keys { |key| key.respond_to?(:to_sym) ? key.to_sym : key }
          end
        end
      end
    end
  end
end
