#pragma once

// Addresses and sockets moved to joconde_io (joconde/io/net.hpp); this name stays for the sources
// that another change is editing at the same time (http_server.cpp, tests). New code includes
// joconde/io/net.hpp.

#include "joconde/io/net.hpp"
