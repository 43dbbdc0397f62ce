# frozen_string_literal: true

# What every stack's Gemfile shares: the tools the specs and rake use, at the
# lowest versions CI runs (Debian 12's), plus the offline rack-session
# stand-in (see ../Gemfile). Versions are lower bounds only, so Bundler
# resolves against Debian's packaged gems offline and against RubyGems
# elsewhere.

group :development, :test do
  gem "puma", ">= 5.6", require: false
  gem "rack-test", ">= 2.0", require: false
  gem "rake", ">= 13.0"
  gem "rspec", ">= 3.12", require: false
end

group :lint do
  gem "rubocop", ">= 1.39", require: false
end

# spec/integration/browser_spec.rb: headless Chromium through chromium-driver.
group :browser do
  gem "selenium-webdriver", ">= 4.4", require: false
end

installed_rack = Gem::Specification.find_all_by_name("rack").map(&:version).max
if Gem::Specification.find_all_by_name("rack-session").empty? && installed_rack &&
   installed_rack < Gem::Version.new("3")
  # (Bundler.root is the folder of the Gemfile in use: the checkout's or gemfiles/.)
  stand_in = %w[gemfiles/offline offline].map { |dir| Bundler.root.join(dir, "rack-session-1.0.2") }.find(&:exist?)
  gem "rack-session", "1.0.2", path: stand_in.to_s
end
