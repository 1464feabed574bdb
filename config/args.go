package config

import "flag"

// ParseInterspersed parses args with fs like fs.Parse, but lets flags follow
// positional arguments (`enqueue retry B --class terminal`, `status B
// --json`), as the README writes them; the standard flag package stops at
// the first non-flag. Afterwards fs.Args() holds the positional arguments in
// order. A "--" still ends the flags: everything after it is positional.
func ParseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Parse once more so fs.Args() reports the positionals; "--" keeps one
	// that starts with "-" (after an explicit "--") from being read as a flag.
	return fs.Parse(append([]string{"--"}, positional...))
}
