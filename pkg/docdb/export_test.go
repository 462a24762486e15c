package docdb

// SetFerretDB makes c take the server for FerretDB (true) or not (false), whatever it is,
// so that both ways of Existing run against the devstack's FerretDB.
func SetFerretDB(c *Client, ferret bool) {
	c.ferretOnce.Do(func() {})
	c.ferret = ferret
}
