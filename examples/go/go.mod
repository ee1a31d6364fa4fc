module example.com/run_container

go 1.19

require github.com/clintjedwards/gofer-scheduler/bindings/go v0.0.0

// Until the module is published: the binding's source, here the checkout's. A program outside
// the checkout points this at its copy of bindings/go.
replace github.com/clintjedwards/gofer-scheduler/bindings/go => ../../bindings/go
