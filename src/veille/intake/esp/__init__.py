"""The CyberTipline-compatible ESP reporting API: schema, parser, mapping, life cycle."""
