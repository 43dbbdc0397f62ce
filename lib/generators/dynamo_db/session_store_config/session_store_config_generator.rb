# frozen_string_literal: true

require "rails/generators"

module DynamoDb
  module Generators
    # `rails generate dynamo_db:session_store_config [--environment=ENV]`:
    # a commented YAML file of every session store option.
    class SessionStoreConfigGenerator < Rails::Generators::Base
      source_root File.expand_path("templates", __dir__)

      class_option :environment,
                   type: :string, default: nil,
                   desc: "Rails environment the file is for (config/aws_dynamo_db_session_store/<ENV>.yml)"

      # Writes config/aws_dynamo_db_session_store.yml, or
      # config/aws_dynamo_db_session_store/<environment>.yml.
      def copy_config_file
        path = "config/aws_dynamo_db_session_store"
        path += "/#{options["environment"]}" if options["environment"]
        template("aws_dynamo_db_session_store.yml.tt", "#{path}.yml")
      end

      private

      def environment_label
        options["environment"] ? "the #{options["environment"]} environment" : "every environment"
      end
    end
  end
end
