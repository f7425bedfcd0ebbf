{
  levelFor = stage: if stage == "prod" then "warn" else { verbose = 2; };
}
