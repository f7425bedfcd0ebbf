env: with env; [ ''
    line one
      indented
    ${x} after
  '' ''a''$ b '''c ''\n d'' '''' ]