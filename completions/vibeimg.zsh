
#compdef vibeimg

_vibeimg_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _VIBEIMG_COMPLETE=complete_zsh vibeimg)
}

compdef _vibeimg_completion vibeimg

